/**
 * Who may start a transfer now: at most `maxTransfers` at once, and `maxTransfersPerClient` per
 * client address (a looping or misbehaving client cannot take every slot). Pure: the server
 * keeps the counts and sends the answer (TFTP ERROR 0 with this message).
 */
export interface AdmissionLimits { maxTransfers: number, maxTransfersPerClient: number }

/** Null when the request may start, else the busy message for the client. */
export function refusal (active: number, fromClient: number, limits: AdmissionLimits): string | null {
  if (active >= limits.maxTransfers) return 'Server busy, try again later'
  if (fromClient >= limits.maxTransfersPerClient) return 'Server busy: too many transfers from this client, try again later'
  return null
}
