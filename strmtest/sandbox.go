package strmtest

// Configured returns a stream that the sandbox file of WithConfig created,
// with clients that carry its credentials; it fails the test when the file
// created no such stream.
func (sb *Sandbox) Configured(name string) *Stream {
	sb.t.Helper()
	for _, st := range sb.Server.SandboxPlan().GetCreatedStreams() {
		if st.Name == name {
			sc := sb.Client.AsStream(st.Credentials)
			return &Stream{Stream: st, Events: sc.Events, Egress: sc.Egress, sb: sb, t: sb.t}
		}
	}
	sb.t.Fatalf("strmtest: the sandbox file (WithConfig) created no stream %q", name)
	return nil
}
