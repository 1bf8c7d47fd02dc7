package client

import (
	"net/http"
	"strings"

	"connectrpc.com/connect"

	v1 "github.com/strmlocal/strmlocal/api/strmlocal/v1"
	"github.com/strmlocal/strmlocal/api/strmlocal/v1/strmlocalv1connect"
)

// Options configure a Client. Every field has a usable zero value.
type Options struct {
	// HTTPClient carries the calls. Default: http.DefaultClient (HTTP/1.1,
	// which every protocol but gRPC works over; see NewH2CClient).
	HTTPClient connect.HTTPClient
	// AdminToken is sent as a bearer token on every management call when
	// set. Default: "" (a loopback server without an admin token).
	AdminToken string
	// ConnectOptions are added to every service client (a protocol choice,
	// say).
	ConnectOptions []connect.ClientOption
}

// Client holds a client of every service of one server. Management calls
// carry the admin token; stream-scoped calls (sending, reading) need a
// stream's credentials: see AsStream.
type Client struct {
	// URL is the server's base URL, without a trailing slash.
	URL  string
	HTTP connect.HTTPClient

	Streams        strmlocalv1connect.StreamServiceClient
	Schemas        strmlocalv1connect.SchemaServiceClient
	EventContracts strmlocalv1connect.EventContractServiceClient
	Events         strmlocalv1connect.EventServiceClient
	Keys           strmlocalv1connect.KeyServiceClient
	Clock          strmlocalv1connect.ClockServiceClient
	Server         strmlocalv1connect.ServerServiceClient
	Connectors     strmlocalv1connect.ConnectorServiceClient
	Jobs           strmlocalv1connect.JobServiceClient
	// Sandbox applies and exports sandbox documents (see LoadSandbox).
	Sandbox strmlocalv1connect.SandboxServiceClient

	copts []connect.ClientOption
}

// New returns a client of the server at url.
func New(url string, o Options) *Client {
	if o.HTTPClient == nil {
		o.HTTPClient = http.DefaultClient
	}
	url = strings.TrimRight(url, "/")
	copts := append([]connect.ClientOption(nil), o.ConnectOptions...)
	if o.AdminToken != "" {
		copts = append(copts, connect.WithInterceptors(BearerAuth(o.AdminToken)))
	}
	hc := o.HTTPClient
	return &Client{
		URL:            url,
		HTTP:           hc,
		Streams:        strmlocalv1connect.NewStreamServiceClient(hc, url, copts...),
		Schemas:        strmlocalv1connect.NewSchemaServiceClient(hc, url, copts...),
		EventContracts: strmlocalv1connect.NewEventContractServiceClient(hc, url, copts...),
		Events:         strmlocalv1connect.NewEventServiceClient(hc, url, copts...),
		Keys:           strmlocalv1connect.NewKeyServiceClient(hc, url, copts...),
		Clock:          strmlocalv1connect.NewClockServiceClient(hc, url, copts...),
		Server:         strmlocalv1connect.NewServerServiceClient(hc, url, copts...),
		Connectors:     strmlocalv1connect.NewConnectorServiceClient(hc, url, copts...),
		Jobs:           strmlocalv1connect.NewJobServiceClient(hc, url, copts...),
		Sandbox:        strmlocalv1connect.NewSandboxServiceClient(hc, url, copts...),
		copts:          copts,
	}
}

// ConnectOptions are the options of every service client: the admin token
// and Options.ConnectOptions.
func (c *Client) ConnectOptions() []connect.ClientOption { return c.copts }

// StreamClient makes the calls of one stream, with its credentials.
type StreamClient struct {
	Events strmlocalv1connect.EventServiceClient
	Egress strmlocalv1connect.EgressServiceClient
}

// AsStream returns the clients that send to and read from a stream with its
// credentials (HTTP Basic), not with the admin token.
func (c *Client) AsStream(creds *v1.Credentials) *StreamClient {
	return c.With(connect.WithInterceptors(BasicAuth(creds.GetClientId(), creds.GetClientSecret())))
}

// With returns stream-scoped clients that authenticate with opts (an
// interceptor of BasicAuth or BearerAuth).
func (c *Client) With(opts ...connect.ClientOption) *StreamClient {
	return &StreamClient{
		Events: strmlocalv1connect.NewEventServiceClient(c.HTTP, c.URL, opts...),
		Egress: strmlocalv1connect.NewEgressServiceClient(c.HTTP, c.URL, opts...),
	}
}

// NewH2CClient returns an HTTP client that speaks cleartext HTTP/2 with
// prior knowledge, which all three protocols (Connect, gRPC, gRPC-Web) work
// over.
func NewH2CClient() *http.Client {
	p := new(http.Protocols)
	p.SetUnencryptedHTTP2(true)
	return &http.Client{Transport: &http.Transport{Protocols: p}}
}
