package pcsc

// ServiceHint tells a user how to start this platform's PC/SC service.
const ServiceHint = "start the Smart Card service (SCardSvr); Windows stops it while no reader is plugged in, so plug in the reader"
