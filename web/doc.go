// Package web is the HTTP plumbing shared by hcidp's handlers (server,
// login, portalapi): the request context (request ID, the client address
// behind trusted proxies, the endpoint name for metrics), the security
// headers, and the pages every refusal and fault answers with — a 4xx with
// a reason code, a 503 with Retry-After for a fault of a dependency, a 500
// only for a bug (docs/threat-model.md, "What a refusal looks like").
package web
