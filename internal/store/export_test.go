package store

// WALData is walData, for the tests of package store_test.
var WALData = walData
