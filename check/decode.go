package check

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// maxEncodedSize bounds the input accepted by Decode: base64 of MaxSize plus
// generous room for line breaks and URL encoding.
const maxEncodedSize = 3 * MaxSize

// Decode turns what a partner pastes into Response XML. It accepts raw XML, the
// base64 (standard alphabet, with or without padding, with any white space or
// line breaks) of the XML, a URL-encoded form body containing
// "SAMLResponse=...", or a URL-encoded base64 value.
func Decode(input []byte) ([]byte, error) {
	if len(input) > maxEncodedSize {
		return nil, fmt.Errorf("input is %d bytes; at most %d are accepted", len(input), maxEncodedSize)
	}
	s := bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(input), []byte("\xef\xbb\xbf")))
	if len(s) == 0 {
		return nil, errors.New("input is empty")
	}
	if s[0] == '<' {
		return checkDecoded(s)
	}

	text := string(s)
	switch {
	case strings.HasPrefix(text, "SAMLResponse=") || strings.Contains(text, "&SAMLResponse="):
		form, err := url.ParseQuery(text)
		if err != nil {
			return nil, fmt.Errorf("input looks like a form body but cannot be parsed: %v", err)
		}
		vals := form["SAMLResponse"]
		if len(vals) != 1 {
			return nil, fmt.Errorf("the form body contains %d SAMLResponse parameters; expected exactly one", len(vals))
		}
		// A '+' that was not percent-encoded turns into a space when the form
		// is parsed; base64 never contains spaces, so turn them back.
		text = strings.ReplaceAll(vals[0], " ", "+")
	case strings.Contains(text, "%"):
		u, err := url.PathUnescape(text)
		if err != nil {
			return nil, fmt.Errorf("input contains %% but is not valid URL encoding: %v", err)
		}
		text = u
	}

	b64 := strings.Join(strings.Fields(text), "")
	raw, err := base64.StdEncoding.DecodeString(b64)
	if err != nil {
		var err2 error
		raw, err2 = base64.RawStdEncoding.DecodeString(strings.TrimRight(b64, "="))
		if err2 != nil {
			return nil, fmt.Errorf("input is neither XML (it does not start with '<') nor standard base64: %v", err)
		}
	}
	raw = bytes.TrimSpace(bytes.TrimPrefix(bytes.TrimSpace(raw), []byte("\xef\xbb\xbf")))
	if len(raw) == 0 || raw[0] != '<' {
		return nil, errors.New("the base64 decodes to something that is not XML; note that HTTP-POST Responses are base64 of the plain XML, not DEFLATE-compressed")
	}
	return checkDecoded(raw)
}

func checkDecoded(doc []byte) ([]byte, error) {
	if len(doc) > MaxSize {
		return nil, fmt.Errorf("the XML is %d bytes; at most %d bytes (1 MiB) are accepted", len(doc), MaxSize)
	}
	return doc, nil
}
