// Package testbed runs a private pcscd with vsmartcard's virtual readers for
// cardbridge's integration tests, so that they drive the real PC/SC stack
// (pcscd, libpcsclite, github.com/ebfe/scard) with virtual cards from
// package vcard instead of hardware.
//
// pcscd has one fixed socket (/run/pcscd/pcscd.comm), so only one can run
// on a host. Tests that use this package therefore need root, the Debian
// packages pcscd and vsmartcard-vpcd, and permission to stop a pcscd that is
// already running: they run only when CARDBRIDGE_TEST_PCSCD=1, which the
// project's test script sets.
package testbed
