// Package local is the sink of the "local" data connector: a directory on
// the server's machine. Objects are files below it; a Put writes a
// temporary file beside the target, syncs it and renames it into place, so
// a reader never sees half an object.
package local
