package saml

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"strings"

	"github.com/beevik/etree"
)

// Bounds on what keygate reads from the browser.
const (
	// maxMessageSize bounds a SAML message after base64 (and inflate):
	// a login Response with a few hundred attribute values is tens of
	// kilobytes.
	maxMessageSize = 1 << 20
	// maxDepth bounds element nesting: SAML messages nest about ten deep.
	maxDepth = 64
	// maxElements bounds the number of elements of a message.
	maxElements = 20000
)

const (
	nsProtocol  = "urn:oasis:names:tc:SAML:2.0:protocol"
	nsAssertion = "urn:oasis:names:tc:SAML:2.0:assertion"
)

var errNoMessage = errors.New("no SAML message")

// checkXML scans doc with the standard tokenizer and refuses a DTD (and so
// every entity declaration, external or not), processing instructions
// other than the XML declaration, and nesting deeper than maxDepth. It
// returns the root element's local name.
func checkXML(doc []byte) (string, error) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	var root string
	depth := 0
	for {
		tok, err := d.RawToken()
		if err == io.EOF {
			break
		}
		if err != nil {
			return "", fmt.Errorf("malformed XML: %w", err)
		}
		switch t := tok.(type) {
		case xml.Directive:
			return "", errors.New("DTDs and entity declarations are not accepted")
		case xml.ProcInst:
			if t.Target != "xml" {
				return "", errors.New("processing instructions are not accepted")
			}
		case xml.StartElement:
			if depth == 0 {
				if root != "" {
					return "", errors.New("more than one root element")
				}
				root = t.Name.Local
			}
			depth++
			if depth > maxDepth {
				return "", errors.New("elements nested too deep")
			}
		case xml.EndElement:
			depth--
		}
	}
	if root == "" {
		return "", errors.New("no root element")
	}
	return root, nil
}

// messageInfo is what inspect reads from a received protocol message,
// before any signature is checked: it decides refusals only (a wrong
// shape, a wrong Destination, a failure status), never an acceptance.
type messageInfo struct {
	root, rootNS    string
	id              string
	destination     string
	inResponseTo    string
	issuer          string
	status          string
	subStatus       string
	assertions      int  // Assertion and EncryptedAssertion elements anywhere
	directAssertion bool // the (one) assertion is a child of the root
	encrypted       bool // ... and it is an EncryptedAssertion
	assertionIssuer string
}

// inspect parses a SAML protocol message from the browser and applies
// keygate's structural rules: bounded size and depth, no DTD, no
// processing instruction, no comment inside the message (a comment in a
// NameID is how signature-preserving truncation attacks start, and no IdP
// writes one). The document is parsed once more by crewjam/saml; this
// pass is cheap beside the signature check.
func inspect(raw []byte) (*messageInfo, error) {
	if len(raw) > maxMessageSize {
		return nil, fmt.Errorf("message larger than %d bytes", maxMessageSize)
	}
	doc := etree.NewDocument()
	if err := doc.ReadFromBytes(raw); err != nil {
		return nil, fmt.Errorf("malformed XML: %w", err)
	}
	var root *etree.Element
	for _, tok := range doc.Child {
		switch t := tok.(type) {
		case *etree.Directive:
			return nil, errors.New("DTDs and entity declarations are not accepted")
		case *etree.ProcInst:
			if t.Target != "xml" {
				return nil, errors.New("processing instructions are not accepted")
			}
		case *etree.Element:
			if root != nil {
				return nil, errors.New("more than one root element")
			}
			root = t
		}
	}
	if root == nil {
		return nil, errNoMessage
	}
	info := &messageInfo{
		root:         root.Tag,
		rootNS:       root.NamespaceURI(),
		id:           root.SelectAttrValue("ID", ""),
		destination:  root.SelectAttrValue("Destination", ""),
		inResponseTo: root.SelectAttrValue("InResponseTo", ""),
	}

	// Walk the tree without recursion, counting and refusing.
	type frame struct {
		el    *etree.Element
		depth int
	}
	stack := []frame{{root, 1}}
	elements := 0
	for len(stack) > 0 {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		elements++
		if elements > maxElements {
			return nil, errors.New("too many elements")
		}
		if f.depth > maxDepth {
			return nil, errors.New("elements nested too deep")
		}
		if f.el.Tag == "Assertion" || f.el.Tag == "EncryptedAssertion" {
			info.assertions++
			if f.depth == 2 {
				info.directAssertion = true
				info.encrypted = f.el.Tag == "EncryptedAssertion"
				if iss := f.el.SelectElement("Issuer"); iss != nil {
					info.assertionIssuer = strings.TrimSpace(iss.Text())
				}
			}
		}
		for _, tok := range f.el.Child {
			switch t := tok.(type) {
			case *etree.Element:
				stack = append(stack, frame{t, f.depth + 1})
			case *etree.Comment:
				return nil, errors.New("comments inside a SAML message are not accepted")
			case *etree.Directive:
				return nil, errors.New("DTDs and entity declarations are not accepted")
			case *etree.ProcInst:
				return nil, errors.New("processing instructions are not accepted")
			}
		}
	}
	for _, el := range root.ChildElements() {
		switch el.Tag {
		case "Issuer":
			if info.issuer == "" {
				info.issuer = strings.TrimSpace(el.Text())
			}
		case "Status":
			if code := el.SelectElement("StatusCode"); code != nil {
				info.status = code.SelectAttrValue("Value", "")
				if sub := code.SelectElement("StatusCode"); sub != nil {
					info.subStatus = sub.SelectAttrValue("Value", "")
				}
			}
		}
	}
	return info, nil
}
