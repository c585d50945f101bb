"""Grading untrusted student submissions: ``gradcheck grade``.

``grade.py`` grades a class: it finds each submission's file, runs one
grading process (``worker.py``) per submission, a few at a time, and collects
their results.  In a grading process ``sandbox.py`` runs the submission in a
child process (``child.py``) under bubblewrap (``bwrap.py``), or where bwrap
cannot run as an unprivileged user of its own (``users.py``), and the engine
checks it through that child; ``protocol.py`` is their wire format and
``seccomp.py`` the filter the child installs on itself.

Threat model
============

A submission is arbitrary code from a student who may want a better grade,
a worse one for classmates, or the grader's secrets.  It runs only in the
child; everything else is gradcheck's own code.

What isolates what
------------------

* **The child from the machine**, under bwrap (``--sandbox bwrap``, and
  ``auto`` where it runs): new user, pid, network, IPC, UTS and cgroup
  namespaces.  It sees and signals only its own processes, and all of them
  die with the sandbox (``--die-with-parent``; its pid namespace ends with
  it); it has no network, only a loopback of its own; its filesystem is a
  read-only view of the system libraries, the interpreter's standard
  library, numpy and the eleven files of gradcheck the child needs (no
  site-packages, no rest of gradcheck, no reference_layers, no /etc, no
  course folder, a read-only /dev), its own copy of its submission (see
  below), and a working directory that is a 64 MiB tmpfs.  Its environment
  is a fixed minimal one.  When the grader runs as root, the child drops to
  uid and gid 65534 with no capabilities and no supplementary groups before
  it loads anything, and that is its uid as the kernel sees it outside the
  namespace too (``bwrap.map_users``).
* **The child from the machine**, as a user of its own (``--sandbox user``,
  and ``auto`` where bwrap cannot run and the grader is root, as in
  Gradescope's container): the child drops to a uid (and gid) that nothing
  on the machine uses, one per grading slot, before it loads anything; the
  kernel keeps it from the grader's processes (no signal, no descriptor, no
  environment) and from every file not open to all users.  That the grader's
  installation (its environment, the reference layers) and the submissions
  as given are closed to such a user is checked for real, as one, before
  grading (``sandbox.user_problem``), and ``gradcheck autograder``'s bundle
  closes its own files.  The child reads its private copy (closed to other
  slots), gradcheck's child files and numpy linked into the grader's scratch
  folder, and the interpreter's standard library; it works in a folder of
  its own.  Every process of its uid is killed before the slot's next child
  starts and after each ends (``users.sweep``).
* **Memory, CPU and files**, under either: the child is one task (RLIMIT_NPROC
  1: no process, no thread), so its address-space limit (RLIMIT_AS; BLAS
  pinned to one thread) bounds all the memory it maps and it uses at most one
  CPU; CPU time (RLIMIT_CPU) and wall-clock time (counted by the grading
  process, which kills the child) bound how long; each file is at most 64 MiB
  (RLIMIT_FSIZE), descriptors at most 64 (they bound what its pipes buffer
  in the kernel), no core dumps; and a seccomp filter (``seccomp.py``,
  built and loaded by libseccomp) refuses what holds memory no limit counts
  or leaves the isolation: memfd_create, System V shared memory, a user
  namespace of its own (in which it could mount a tmpfs of any size),
  io_uring, sockets, extended attributes (a tmpfs keeps them in kernel
  memory its size does not count), and every system call of another ABI
  (i386, x32).  Under bwrap the only writable tmpfs is its working
  directory: 64 MiB of data and, as root, 4096 files and folders (each
  holds about a kibibyte of kernel memory that no size counts; bwrap alone
  bounds the bytes).
* **A submission from its classmates**: its sandbox holds its own files only
  (``sandbox.copy_submission``): a file alone (its neighbours are
  classmates'), a folder whole, ``.py`` files only, no symbolic link
  followed, compiled from source (no ``__pycache__`` read or written); a
  file of the submission that would hide a module of the standard library,
  numpy or gradcheck while it imports (``__future__.py``, ``numpy.py``) is
  left out, with a note the student sees.
* **The verdict from the child**: the child only computes.  It receives
  inputs and returns arrays as ``.npy`` bytes read with pickle disabled, of
  plain numeric dtypes and the sizes expected, in frames whose JSON header
  and length are checked, each read under a deadline; every comparison and
  verdict happens in the grading process.  What the child prints is only
  captured output.  Failing early buys nothing: where the layer dies, times
  out or refuses a configuration (raises in forward, returns no array), the
  checks not made there fail (``grade.counted_where_made``; a run that stops
  keeps only the checks it finished), so no gradient is judged only where
  it happens to be right.
* **The run from a grading process**: each is a process of its own that
  sends one JSON result (size-capped, parsed with ``json``, rebuilt with
  ``from_dict``); it is killed past its deadline, and a watchdog bounds the
  whole run.  One that dies, stops, hangs or sends garbage costs only its
  own submission's grade.  Nothing is unpickled anywhere in grading.
* **The report from everyone**: the main process writes ``--output`` after
  every grading process (and so every sandbox, and every process of a
  submission's user) has ended, through a temporary file that replaces it
  whole.  Every report says which isolation ran, and why not bwrap.

What does not isolate
---------------------

* No grader can tell a correct layer from one that behaves correctly only
  while it is being checked (recognising the inputs, the call pattern, the
  sandbox): gradcheck checks behaviour, not intent.
* Copying stays possible: a submission can hold a copied correct
  implementation.  Only copying through the grader is closed (the reference
  layers and the classmates' files are not readable).
* The kernel is shared: a kernel exploit escapes any of this.  No cgroup is
  made: one task under its limits and the filter holds, per submission, at
  most its address-space limit, its 64 MiB working directory (as root, of
  4096 entries) and what its 64 descriptors buffer, and at most one CPU;
  submissions graded at the same time share the CPUs, one each.  The filter knows x86_64 and aarch64;
  elsewhere, or without libseccomp (``libseccomp.so.2``), an isolated child
  refuses to start and says why.
* A submission runs as one task: a layer that starts a thread or a process
  fails where it does.
* As a user of its own, without bwrap: it reads what every user may (the
  system's files, /etc/passwd, the interpreter), sees every process's
  command line (not its environment or descriptors), and may write files
  wherever every user may, each at most 64 MiB but without bound in total:
  it can fill the disk of its container.
* The sandbox's ``/proc/1/cmdline`` (bwrap's command line) shows where the
  interpreter, numpy and the run's scratch folder are on the machine: names,
  none of them reachable.
* How a child ended comes from its exit status (bwrap's, under bwrap): a
  child that catches SIGXCPU and is then killed at the hard CPU limit, or
  that the kernel kills for memory, is reported as killed, not as over its
  limit.
* Under bwrap and not run as root, the child keeps the grader's uid (it
  reaches only read-only mounts, and no process of the grader), and has no
  capability to mount its working directory itself: there the number of
  files and folders in it is not bounded (its bytes are), so a submission
  can hold about a kibibyte of kernel memory per entry for as long as its
  time limit lets it make them.
  ``--sandbox none`` isolates nothing: the child is a plain process of the
  grader's user, with the same limits but the process count and the filter,
  and every report says so; only that explicit choice runs unisolated.
* In a Gradescope bundle (``autograder.py``) the container, one per
  submission, is the boundary between students; within it the submission is
  isolated as above, under bwrap where the container allows it and as a
  user of its own otherwise.
"""
