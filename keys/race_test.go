//go:build race

package keys_test

// raceEnabled: built with the race detector, which changes what the heap
// holds (TestCachedBytesMatchHeap).
const raceEnabled = true
