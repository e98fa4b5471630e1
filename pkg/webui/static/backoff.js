// How long the page waits before asking again, no DOM. Every wait has
// jitter, so that the pages of many viewers (of a restarted server, say)
// spread their requests instead of arriving together. random is
// Math.random, or a stand-in in tests.

// jittered is a delay between half and all of ms.
export const jittered = (ms, random = Math.random) => ms / 2 + random() * ms / 2;

// streamDelay is the wait before the stream's next try after attempt
// failed tries in a row: exponential from 0.5 s to 30 s, with "equal
// jitter" (half the delay fixed, half random).
export function streamDelay(attempt, random = Math.random) {
  return jittered(Math.min(30000, 500 * 2 ** attempt), random);
}

// LIST_POLL is how often the namespace list is read again. The server
// answers every viewer from one shared list (at most one list of the
// cluster per 5 s, however many pages ask), so each page waits 5 to 10 s.
export const LIST_POLL = 10000;

// listDelay is the wait before reading the namespace list again after
// failures failed reads in a row (0 after a success): twice as long after
// each failure, up to a minute.
export function listDelay(failures, random = Math.random) {
  return jittered(Math.min(60000, LIST_POLL * 2 ** Math.min(failures, 3)), random);
}

// retryText is what the connection badge says while waiting delay ms.
export const retryText = (why, delay) => why + "; retrying in " + Math.ceil(delay / 1000) + "s";
