// Package fswatch tells a long-running program that a file it depends on
// may have changed, through the operating system's file notifications
// (inotify, kqueue) rather than by looking on a timer: an idle agent on a
// terminal server shared by hundreds of users must not wake up to find
// nothing changed.
//
// It watches the directories holding the files, so that a file replaced
// by rename (as package managers and editors do), removed or created is
// seen as well as one written in place, and a path whose directory does not
// exist yet is watched through its nearest existing ancestor.
//
// A process uses one notification instance however many watches it has
// (Linux allows each user 128 instances, shared with the desktop's own).
//
// Windows programs are told of registry changes instead (the policies) and
// do not watch their executable (installers restart the agents), so Watch
// is not offered there.
package fswatch
