// Package domainlist parses DomainList.txt, the allow-list of web origins that may
// use the cardbridge agent and port service, and matches Origin header values
// against it.
//
// A List is immutable once parsed and safe for concurrent use; matching an Origin
// header as browsers send it with List.Allows does not allocate.
package domainlist
