package client

// The STRM-compatible HTTP surface (docs/compat.md): where the original
// drivers get tokens and the headers they send with POST /event. Content
// types of Strm-Serialization-Type are engine.ContentTypeAvroBinary and
// engine.ContentTypeJSON.
const (
	// TokenPath is the OAuth2 token endpoint (the Keycloak realm of the
	// original platform).
	TokenPath = "/auth/realms/streams/protocol/openid-connect/token"
	// LegacyAuthPath and LegacyRefreshPath are the token endpoints of the
	// drivers up to 2.x, which predate the OAuth2 one (docs/compat.md,
	// "Legacy tokens").
	LegacyAuthPath    = "/auth"
	LegacyRefreshPath = "/refresh"
	// HeaderSchemaRef names the schema of a POST /event body.
	HeaderSchemaRef = "Strm-Schema-Ref"
	// HeaderSchemaID is the legacy alias of HeaderSchemaRef.
	HeaderSchemaID = "Strm-Schema-Id"
	// HeaderSerialization is the body's content type.
	HeaderSerialization = "Strm-Serialization-Type"
)

// DefaultServer is the URL of a server started with default options.
const DefaultServer = "http://127.0.0.1:50051"
