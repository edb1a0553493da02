// Package validate checks hcidp's deployment files offline, in a module of
// its own so that the product's go.mod stays free of the Kubernetes API: the
// Kubernetes manifests (built with kustomize, decoded strictly into the API
// types, and checked for what a production IdP needs), the configuration
// they carry (decoded by hcidp's own config package), the systemd unit, and
// the Grafana dashboard's queries. Run: cd deploy/validate && go test ./...
package validate
