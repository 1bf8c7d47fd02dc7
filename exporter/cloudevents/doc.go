// Package cloudevents is the sink of the "http" data connector: an HTTP
// endpoint (a Knative broker, an Argo Events webhook source, Azure Event
// Grid, any webhook) that takes events as CloudEvents 1.0, POSTed one per
// request in binary content mode (the default) or structured mode, or
// several per request in the JSON batch format. Events are written with
// the CloudEvents Go SDK's HTTP binding.
//
// A Publisher makes one attempt per Publish and says how it failed: a
// network failure, a timeout, 408, 429 or a 5xx is exporter.ErrUnavailable
// (with the Retry-After the endpoint asked for, see exporter.RetryAfter),
// any other 4xx is exporter.ErrPermanent with the status and the start of
// the response body. Retrying is the job framework's business
// (docs/cloudevents.md).
package cloudevents
