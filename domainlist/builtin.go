package domainlist

// BuiltinText is the DomainList every cardbridge starts with, before an
// admin, the port service or its trusted URL gives another: the NHS
// national systems that use smartcard sign-in.
const BuiltinText = `# version: builtin-1
https://my.esr.nhs.uk
https://*.spineservices.nhs.uk
`

// builtin is BuiltinText parsed, once; a List is immutable.
var builtin = func() *List {
	l, bad := Parse([]byte(BuiltinText))
	if len(bad) > 0 || l.Len() == 0 {
		panic("domainlist: the built-in DomainList does not parse")
	}
	return l
}()

// Builtin returns the built-in DomainList.
func Builtin() *List { return builtin }
