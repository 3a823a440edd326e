//go:build race

package domainlist

const raceEnabled = true
