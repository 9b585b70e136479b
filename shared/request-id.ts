/**
 * The one X-Request-Id alphabet of API.md §16, shared by the edge and the origin: an id either side
 * accepts is echoed unchanged by both, so the header and the body's `requestId` never differ.
 */
export const REQUEST_ID_PATTERN = /^[A-Za-z0-9._:-]{1,128}$/
