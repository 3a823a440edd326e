package main

// defaultPortServiceSocket is the port service's named pipe.
const defaultPortServiceSocket = `\\.\pipe\cardbridge-portservice`
