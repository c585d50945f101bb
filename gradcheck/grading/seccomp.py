"""The seccomp filter an isolated child installs on itself: the few system calls that reach past its limits.

Resource limits bound what one process holds in its address space, its CPU
time and its files; a few system calls hold memory, or open a way out,
that no limit counts:

=====================================  =====================================================================
``memfd_create``                       anonymous files: memory that is in no address space once unmapped
``shmget``                             System V shared memory, which outlives every process that made it
``clone``, ``unshare`` with            a user namespace of its own, in which it may mount a tmpfs of any
``CLONE_NEWUSER``                      size (or do anything else root may there)
``clone3``                             the same, with flags a seccomp filter cannot read (they are in memory):
                                       refused as ENOSYS, so that the C library falls back to ``clone``
``io_uring_setup``                     a queue whose operations no filter sees
``socket``, ``socketpair``             the network (without bwrap the child shares the machine's, and the
                                       abstract UNIX sockets of the processes there); the child needs none
``setxattr``, ``lsetxattr``,           extended attributes: on a tmpfs they are kernel memory outside its
``fsetxattr``, ``setxattrat``          size (64 KiB a value, on as many files as it likes)
=====================================  =====================================================================

Each is refused with EPERM (clone3 with ENOSYS); everything else is
allowed.  The filter is built and loaded by libseccomp (``libseccomp.so.2``,
the library systemd, Docker and Flatpak build their filters with; apt
depends on it, so it is wherever apt is), called through ctypes: the rules
name the system calls, libseccomp finds their numbers and compiles the BPF.
The filter is for this process's own ABI: a system call made through another
(i386's ``int 0x80``, or x32, which libseccomp's x86_64 filter tells apart by
its number's x32 bit) takes the bad-architecture action, EPERM here too, so
it is refused whole.  Only x86_64 and aarch64 are accepted, the two
architectures gradcheck grades on, where ``clone``'s flags are its first
argument and no system call above is reached through a multiplexer
(``socketcall``, ``ipc``).

``install`` has libseccomp set no_new_privs, loads the filter and checks
that it holds (memfd_create must fail): ``OSError`` when it cannot be
installed, libseccomp cannot be loaded (its message says what to install) or
does not know one of these system calls, and the child then exits before it
loads any submission.  Only the standard library is used: this module runs
in the sandbox (``bwrap.CHILD_FILES``).
"""
import ctypes
import errno
import os

LIBRARY = "libseccomp.so.2"
INSTALL = "apt-get install libseccomp2 (Fedora: dnf install libseccomp; Alpine: apk add libseccomp)"
CLONE_NEWUSER = 0x10000000
RULES = (  # (system call, errno it fails with, flags in its first argument that make it fail, or 0: always)
    ("memfd_create", errno.EPERM, 0),
    ("shmget", errno.EPERM, 0),
    ("io_uring_setup", errno.EPERM, 0),
    ("socket", errno.EPERM, 0),
    ("socketpair", errno.EPERM, 0),
    ("clone", errno.EPERM, CLONE_NEWUSER),
    ("unshare", errno.EPERM, CLONE_NEWUSER),
    ("clone3", errno.ENOSYS, 0),
    ("setxattr", errno.EPERM, 0),
    ("lsetxattr", errno.EPERM, 0),
    ("fsetxattr", errno.EPERM, 0),
    ("setxattrat", errno.EPERM, 0),
)
# Calls newer than the libseccomp that may be installed, by number: the same on x86_64 and aarch64 (from Linux 5.1
# on, new system calls take one number on every architecture).
NEWER = {"setxattrat": 463}
# From libseccomp's seccomp.h (its ABI): actions, filter attributes, a comparison, architecture tokens.
SCMP_ACT_ALLOW, SCMP_ACT_ERRNO = 0x7FFF0000, 0x00050000  # SCMP_ACT_ERRNO(e) is SCMP_ACT_ERRNO | e
SCMP_FLTATR_ACT_BADARCH, SCMP_FLTATR_CTL_NNP = 2, 3
SCMP_CMP_MASKED_EQ = 7
ARCHITECTURES = {0xC000003E: "x86_64", 0xC00000B7: "aarch64"}  # SCMP_ARCH_X86_64, SCMP_ARCH_AARCH64


class _ArgCmp(ctypes.Structure):
    """struct scmp_arg_cmp: argument ``arg`` compared by ``op`` with ``datum_a`` (and ``datum_b``)."""
    _fields_ = [("arg", ctypes.c_uint), ("op", ctypes.c_int), ("datum_a", ctypes.c_uint64),
                ("datum_b", ctypes.c_uint64)]


SIGNATURES = {  # function: (return type, argument types)
    "seccomp_arch_native": (ctypes.c_uint32, []),
    "seccomp_init": (ctypes.c_void_p, [ctypes.c_uint32]),
    "seccomp_attr_set": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_int, ctypes.c_uint32]),
    "seccomp_syscall_resolve_name": (ctypes.c_int, [ctypes.c_char_p]),
    "seccomp_rule_add_array": (ctypes.c_int, [ctypes.c_void_p, ctypes.c_uint32, ctypes.c_int, ctypes.c_uint,
                                              ctypes.POINTER(_ArgCmp)]),
    "seccomp_load": (ctypes.c_int, [ctypes.c_void_p]),
    "seccomp_release": (None, [ctypes.c_void_p]),
}


def install():
    """Forbid, in this process and all it starts, what ``RULES`` refuses; OSError when that fails."""
    libseccomp = library()
    _check_architecture(libseccomp)
    context = libseccomp.seccomp_init(SCMP_ACT_ALLOW)
    if not context:
        raise OSError(errno.ENOMEM, "libseccomp could not make a filter (seccomp_init failed)")
    try:
        _check(libseccomp.seccomp_attr_set(context, SCMP_FLTATR_ACT_BADARCH, SCMP_ACT_ERRNO | errno.EPERM),
               "refuse the system calls of other ABIs")
        _check(libseccomp.seccomp_attr_set(context, SCMP_FLTATR_CTL_NNP, 1), "set no_new_privs on load")
        for name, number, flags in RULES:
            _refuse(libseccomp, context, name, number, flags)
        _check(libseccomp.seccomp_load(context), "load the filter")
    finally:
        libseccomp.seccomp_release(context)
    try:
        os.close(os.memfd_create("gradcheck-seccomp-check"))
    except PermissionError:
        return
    raise OSError(errno.EPERM, "the seccomp filter was loaded but memfd_create still works")


def library():
    """libseccomp with its functions typed; OSError saying what to install when it cannot be loaded."""
    try:
        libseccomp = ctypes.CDLL(LIBRARY)
    except OSError as error:
        raise OSError(errno.ENOENT, f"gradcheck's seccomp filter needs libseccomp, and {LIBRARY} could not be "
                                    f"loaded ({error}): install it with {INSTALL}") from None
    for function, (result, arguments) in SIGNATURES.items():
        getattr(libseccomp, function).restype = result
        getattr(libseccomp, function).argtypes = arguments
    return libseccomp


def _check_architecture(libseccomp):
    """OSError unless this process's ABI is one of ``ARCHITECTURES``, where ``RULES`` means what it says."""
    native = libseccomp.seccomp_arch_native()
    if native not in ARCHITECTURES:
        raise OSError(errno.ENOSYS, f"gradcheck's seccomp filter knows {' and '.join(ARCHITECTURES.values())}, "
                                    f"not this architecture (libseccomp's token {native:#x})")


def _refuse(libseccomp, context, name, number, flags):
    """Make system call ``name`` fail with errno ``number``: always, or when its first argument has ``flags``."""
    syscall = libseccomp.seccomp_syscall_resolve_name(name.encode())
    if syscall < 0 and name in NEWER:
        syscall = NEWER[name]
    if syscall < 0:  # NR_SCMP_ERROR, or a pseudo number: a call this architecture does not have
        raise OSError(errno.ENOSYS, f"this libseccomp does not know the system call {name} here: install a newer "
                                    f"one with {INSTALL}")
    comparisons = (_ArgCmp * 1)(_ArgCmp(0, SCMP_CMP_MASKED_EQ, flags, flags)) if flags else None
    _check(libseccomp.seccomp_rule_add_array(context, SCMP_ACT_ERRNO | number, syscall, 1 if flags else 0,
                                             comparisons), f"add the rule refusing {name}")


def _check(result, what):
    """libseccomp's functions return 0, or a negative errno."""
    if result < 0:
        raise OSError(-result, f"libseccomp could not {what}: {os.strerror(-result)}")
