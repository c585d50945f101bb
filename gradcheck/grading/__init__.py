"""Grading untrusted student submissions: ``gradcheck grade``.

``grade.py`` grades a class: it finds each submission's file, runs one
grading process (``worker.py``) per submission, a few at a time, and collects
their results.  In a grading process ``sandbox.py`` runs the submission in a
child process (``child.py``) under bubblewrap (``bwrap.py``), and the engine
checks it through that child; ``protocol.py`` is their wire format.

Threat model
============

A submission is arbitrary code from a student who may want a better grade,
a worse one for classmates, or the grader's secrets.  It runs only in the
child; everything else is gradcheck's own code.

What isolates what
------------------

* **The child from the machine** (bwrap): new user, pid, network, IPC, UTS
  and cgroup namespaces.  It sees and signals only its own processes, and all
  of them die with the sandbox (``--die-with-parent``; its pid namespace ends
  with it); it has no network, only a loopback of its own; its filesystem is a
  read-only view of the system libraries, the interpreter's standard library,
  numpy and the five files of gradcheck the child needs (no site-packages, no
  rest of gradcheck, no reference_layers, no /etc, no course folder), its
  own copy of its submission (``.py`` files only, see
  ``sandbox.copy_submission``: no ``__pycache__`` is read or written, no
  symbolic link in a student's folder followed), and a working directory
  that is a 64 MiB tmpfs.  Its environment is a fixed minimal one.  When the grader runs
  as root, the child drops to uid and gid 65534 with no capabilities and no
  supplementary groups before it loads anything, and that is its uid as the
  kernel sees it outside the namespace too (``bwrap.map_users``).
* **The grader's resources from the child**: wall-clock time (counted by the
  grading process, which kills the sandbox), CPU time, address space (BLAS
  pinned to one thread), file size, process count, no core dumps.
* **The verdict from the child**: the child only computes.  It receives
  inputs and returns arrays as ``.npy`` bytes read with pickle disabled, of
  plain numeric dtypes and the sizes expected, in frames whose JSON header
  and length are checked, each read under a deadline; every comparison and
  verdict happens in the grading process.  What the child prints is only
  captured output.
* **The run from a grading process**: each is a process of its own that
  sends one JSON result (size-capped, parsed with ``json``, rebuilt with
  ``from_dict``); it is killed past its deadline, and a watchdog bounds the
  whole run.  One that dies, stops, hangs or sends garbage costs only its
  own submission's grade.  Nothing is unpickled anywhere in grading.
* **The report from everyone**: the main process writes ``--output`` after
  every grading process (and so every sandbox) has ended, through a
  temporary file that replaces it whole.

What does not isolate
---------------------

* No grader can tell a correct layer from one that behaves correctly only
  while it is being checked (recognising the inputs, the call pattern, the
  sandbox): gradcheck checks behaviour, not intent.
* Copying stays possible: a submission can hold a copied correct
  implementation.  Only copying through the grader is closed (the reference
  layers and the classmates' files are not visible).
* The kernel is shared: a kernel exploit escapes any namespace sandbox.  User
  namespaces nested inside the sandbox are not forbidden (bwrap cannot combine
  that with writing the maps itself).  Submissions graded at the same time
  share the CPUs and can slow each other down, within their limits; the
  working directory's tmpfs is memory outside the child's address-space limit.
* The sandbox's ``/proc/1/cmdline`` (bwrap's command line) shows where the
  interpreter, numpy and the run's scratch folder are on the machine: names,
  none of them reachable.
* Under bwrap, how a child ended comes from bwrap's exit status: a child that
  catches SIGXCPU and is then killed at the hard CPU limit, or that the kernel
  kills for memory, is reported as killed, not as over its limit.
* Not run as root, the child keeps the grader's uid (it reaches only
  read-only mounts, and no process of the grader).  ``--sandbox none`` isolates
  nothing: the child is a plain process of the grader's user, with the same
  limits but the process count, and every report says so.  ``--sandbox auto``
  is bwrap where it can run and none elsewhere, and the reports say why.
* In a Gradescope bundle (``autograder.py``) the container, one per
  submission, is the boundary between students; inside it the grader runs as
  ``nobody``, under bwrap where the container allows it.  Without bwrap the
  submission can tamper with its own grading (the grader is the same user),
  and with nothing else.
"""
