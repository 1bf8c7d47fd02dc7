package app

// The http connector and the cloudevents-sink job (docs/jobs.md).

func httpConnectorKind() *connectorKind { return nil }

func cloudEventsSinkKind() *jobKind { return nil }
