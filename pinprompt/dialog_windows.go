package pinprompt

import (
	"context"
	"fmt"
	"runtime"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/sys/windows"

	"github.com/cardbridge/cardbridge/cardinfo"
)

// The Windows credential dialog: CredUIPromptForCredentialsW in credui.dll,
// on every Windows desktop and server since XP. The PIN goes in the
// password box; the user name box holds a fixed word.
var (
	credui            = windows.NewLazySystemDLL("credui.dll")
	procCredUIPrompt  = credui.NewProc("CredUIPromptForCredentialsW")
	user32            = windows.NewLazySystemDLL("user32.dll")
	procEnumThreadWin = user32.NewProc("EnumThreadWindows")
	procPostMessage   = user32.NewProc("PostMessageW")
)

// creduiInfo is CREDUI_INFOW.
type creduiInfo struct {
	size    uint32
	parent  windows.HWND
	message *uint16
	caption *uint16
	banner  windows.Handle
}

// CREDUI_FLAGS_*: a generic credential, always asked for, never saved, no
// certificates offered, the user name fixed.
const (
	creduiDoNotPersist        = 0x2
	creduiExcludeCertificates = 0x8
	creduiAlwaysShowUI        = 0x80
	creduiGenericCredentials  = 0x40000
	creduiKeepUsername        = 0x100000

	dialogFlags = creduiGenericCredentials | creduiAlwaysShowUI | creduiDoNotPersist |
		creduiExcludeCertificates | creduiKeepUsername

	// CREDUI_MAX_USERNAME_LENGTH and CREDUI_MAX_PASSWORD_LENGTH, plus the
	// terminating NUL.
	maxUser     = 513 + 1
	maxPassword = 256 + 1

	errorCancelled = 1223 // ERROR_CANCELLED
	wmClose        = 0x0010
)

// dialogTarget names the credential the dialog asks for; dialogUser is the
// fixed text of its user name box.
const (
	dialogTarget = "cardbridge"
	dialogUser   = "smartcard"
)

// dialogAvailable reports whether credui.dll and its prompt can be loaded.
func dialogAvailable() error {
	if err := procCredUIPrompt.Find(); err != nil {
		return fmt.Errorf("the Windows credential dialog: %w", err)
	}
	return nil
}

// closeWindows posts WM_CLOSE to each top-level window of a thread, as a
// dialog's Cancel button would close it. Callbacks are a scarce resource
// in Go on Windows: there is only this one.
var closeWindows = windows.NewCallback(func(hwnd, _ uintptr) uintptr {
	_, _, _ = procPostMessage.Call(hwnd, wmClose, 0, 0)
	return 1
})

// dialog shows the Windows credential dialog and returns the PIN typed. It
// ends with ctx: the dialog is closed, as if cancelled.
func dialog(ctx context.Context, msg Message) ([]byte, error) {
	if err := dialogAvailable(); err != nil {
		return nil, err
	}
	type result struct {
		pin []byte
		err error
	}
	done := make(chan result, 1)
	thread := make(chan uint32, 1)
	go func() {
		// The dialog's windows belong to this OS thread, which is how
		// they are found to be closed when ctx ends.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		thread <- windows.GetCurrentThreadId()
		pin, err := promptOnThisThread(msg)
		done <- result{pin, err}
	}()
	tid := <-thread
	select {
	case r := <-done:
		return r.pin, r.err
	case <-ctx.Done():
	}
	// The dialog may not be up yet when ctx ends: keep closing the
	// thread's windows until the prompt returns.
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		_, _, _ = procEnumThreadWin.Call(uintptr(tid), closeWindows, 0)
		select {
		case r := <-done:
			clear(r.pin)
			return nil, fmt.Errorf("PIN prompt: %w", context.Cause(ctx))
		case <-tick.C:
		}
	}
}

// promptOnThisThread shows the dialog and waits for the user.
func promptOnThisThread(msg Message) ([]byte, error) {
	captionText, text := dialogText(msg)
	message, err := windows.UTF16PtrFromString(text)
	if err != nil {
		return nil, fmt.Errorf("PIN prompt text: %w", err)
	}
	caption, err := windows.UTF16PtrFromString(captionText)
	if err != nil {
		return nil, fmt.Errorf("PIN prompt title: %w", err)
	}
	target, _ := windows.UTF16PtrFromString(dialogTarget)
	info := creduiInfo{message: message, caption: caption}
	info.size = uint32(unsafe.Sizeof(info))
	var user [maxUser]uint16
	copy(user[:], windows.StringToUTF16(dialogUser))
	var password [maxPassword]uint16
	defer clear(password[:])
	r, _, _ := procCredUIPrompt.Call(
		uintptr(unsafe.Pointer(&info)),
		uintptr(unsafe.Pointer(target)),
		0, // no security context
		0, // no error to show: the message says it
		uintptr(unsafe.Pointer(&user[0])), uintptr(len(user)),
		uintptr(unsafe.Pointer(&password[0])), uintptr(len(password)),
		0, // no "save" box
		dialogFlags,
	)
	runtime.KeepAlive(message)
	runtime.KeepAlive(caption)
	runtime.KeepAlive(target)
	switch r {
	case 0:
	case errorCancelled:
		return nil, fmt.Errorf("%w: the user cancelled the Windows credential dialog", cardinfo.ErrPINCancelled)
	default:
		return nil, fmt.Errorf("the Windows credential dialog: %w", syscall.Errno(r))
	}
	return pinBytes(password[:])
}
