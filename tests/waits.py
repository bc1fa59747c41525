"""The one deadline the tests put on a wait for a process or an event, so that a genuine hang fails instead of
blocking the suite forever. It is no guess of how long the work takes: the tests run beside other jobs, on two
cores at a load of 200 and more, where a build that takes 2 s on a quiet machine takes minutes. Every other wait
in the tests is for an event (a file appearing, a process ending), never for a length of time."""

HANG_S = 30 * 60
