package pcsc

// ServiceHint tells a user how to start this platform's PC/SC service.
const ServiceHint = "plug in the card reader; macOS starts its smart card service when a reader appears"
