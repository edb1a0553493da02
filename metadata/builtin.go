package metadata

import (
	"bytes"
	_ "embed"
)

// huaweiCNSPMetadata is Huawei Cloud China-site IAM's signed SP metadata, as
// downloaded from https://auth.huaweicloud.com/authui/saml/metadata.xml. Its
// signing certificate is valid until 2028-06-18.
//
//go:embed builtin/huaweicloud-cn-sp-metadata.xml
var huaweiCNSPMetadata []byte

// BuiltinSPMetadata returns a copy of the SP metadata shipped with hcidp for
// site, if there is one. Only "cn" has one. The bytes still go through LoadSP
// like any other metadata.
func BuiltinSPMetadata(site string) ([]byte, bool) {
	switch site {
	case "cn":
		return bytes.Clone(huaweiCNSPMetadata), true
	}
	return nil, false
}
