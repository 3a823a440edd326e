package pcsc

// ServiceHint tells a user how to start this platform's PC/SC service.
const ServiceHint = "start pcscd (sudo systemctl start pcscd.socket, or install it with: sudo apt-get install pcscd)"
