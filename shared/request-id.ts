/** The X-Request-Id alphabet edge and origin both accept (API.md §16); anything else is replaced. */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/
