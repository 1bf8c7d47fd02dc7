package app

// The kafka connector and the kafka-exporter job (docs/jobs.md).

func kafkaConnectorKind() *connectorKind { return nil }

func kafkaExporterKind() *jobKind { return nil }
