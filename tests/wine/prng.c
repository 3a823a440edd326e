/*
 * bcryptprimitives.dll for running cardbridge's Windows tests under Wine.
 *
 * Go's runtime gets its random numbers from bcryptprimitives.dll!ProcessPrng,
 * which Windows 10 and later have and Wine 8 does not: without it a Go
 * program dies at start-up. This DLL exports ProcessPrng alone and fills the
 * buffer from advapi32's RtlGenRandom (SystemFunction036), which Wine has.
 * scripts/test-windows builds it with MinGW-w64 into the Wine prefix's
 * system32, the only place Go loads it from, and sets
 * WINEDLLOVERRIDES=bcryptprimitives=n,b. Only the tests use it; nothing ships it.
 */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T len)
{
	/* RtlGenRandom takes a ULONG length: feed it in chunks. */
	while (len > 0) {
		ULONG n = len > 0x10000000 ? 0x10000000 : (ULONG)len;
		if (!SystemFunction036(data, n))
			return FALSE; /* never hand back an unfilled buffer as random */
		data += n;
		len -= n;
	}
	return TRUE;
}
