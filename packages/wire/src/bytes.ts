/**
 * A fresh plain `Uint8Array` copy of `bytes[start, end)`.
 *
 * Use this instead of `.slice()`: on a Node `Buffer` (what `dgram` hands
 * us), `slice()` is a view that shares memory, not a copy.
 */
export function copyBytes (bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  return new Uint8Array(bytes.subarray(start, end))
}
