package main

import "github.com/strmlocal/strmlocal/client"

// saved is the directory of saved entities under this command line's
// config dir.
func (e *env) saved() client.Saved { return client.SavedIn(client.ConfigDir(e.getenv)) }
