package main

// defaultStateDir holds PortStore.txt, DomainList.txt and the log.
const defaultStateDir = `C:\ProgramData\cardbridge`
