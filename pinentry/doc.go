// Package pinentry asks the user for the smartcard PIN through an external
// pinentry program, speaking the client side of GnuPG's Assuan pinentry
// protocol, so that the PIN never passes through a web page, a log or a URL.
//
// For each signing the agent starts the program, sends SETTITLE, SETDESC
// (naming the requesting origin and the retries left), SETPROMPT, SETERROR
// on a retry, SETTIMEOUT and GETPIN, reads the PIN from the D line, and ends
// the program with BYE. Nothing is cached: the program gets no SETKEYINFO, so
// pinentry-gnome3 and pinentry-mac offer no "save in password manager" box.
// The PIN and the description never appear on the program's command line or
// in its environment.
//
// # Programs that work
//
// Linux: pinentry-gnome3 (GNOME and any desktop with gcr), pinentry-qt (KDE),
// pinentry-gtk-2, each from the distribution's pinentry packages. Find picks
// the first one on PATH when DISPLAY or WAYLAND_DISPLAY is set. pinentry-curses
// and pinentry-tty work only when the agent has a terminal, which it names in
// GPG_TTY (sent as OPTION ttyname); an agent started at login has none.
//
// Windows: Gpg4win's pinentry.exe (Qt) or pinentry-w32.exe, usually in
// C:\Program Files (x86)\Gpg4win\bin or C:\Program Files\Gpg4win\bin, and
// GnuPG's own pinentry-basic.exe in C:\Program Files (x86)\GnuPG\bin. Find
// looks there, then on PATH.
//
// macOS: pinentry-mac from Homebrew (brew install pinentry-mac, in
// /opt/homebrew/bin or /usr/local/bin) or from GPG Suite
// (/usr/local/MacGPG2/libexec/pinentry-mac.app/Contents/MacOS/pinentry-mac).
// Find looks in those places too, since launchd starts agents with a short
// PATH.
//
// # Choosing one
//
// Point cardbridge at a program with
//
//	cardbridge agent --pinentry /usr/bin/pinentry-qt
//	cardbridge agent --pinentry "C:\Program Files (x86)\Gpg4win\bin\pinentry.exe"
//	cardbridge agent --pinentry /opt/homebrew/bin/pinentry-mac
//
// Without --pinentry the agent uses Find. Any program speaking the protocol
// works, including tools/fakepinentry, the scripted one the tests use.
//
// The program gets a minimal environment: the display, session bus, runtime
// directory, home, PATH, language and terminal variables (and on Windows the
// system and profile directories), nothing else.
package pinentry
