// Package huawei is hcidp's one model of Huawei Cloud's side of the
// profile (docs/profile.md): the sites and their hosts, the rule every
// configured or published URL follows (https, or plain http only on a
// loopback host), the "Open console" link (§1) and the bind-result
// notification's document (§4). Everything else asks it rather than
// keeping its own site list.
package huawei
