// Package winlane holds the Windows lane's end-to-end tests: cardbridge's
// Windows builds run under Wine 10 in a Debian trixie root (scripts/wine-root),
// whose WinSCard talks to a pcscd of the root's own with vpcd virtual readers,
// while these tests, on the Linux host, insert and remove virtual cards, talk
// to the Windows agent over loopback, type into its PIN dialog on a virtual X
// display and check what the Windows programs print.
//
// They run when CARDBRIDGE_WINE_ROOT names the root and the lane's mounts are
// in place; scripts/test-windows sets both up. Elsewhere they skip.
package winlane
