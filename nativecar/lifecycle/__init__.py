"""The pod model: what the kubelet does with a pod, as pure data (SIDECARS.md section 3, KEP-753).

- `pod`: a pod template read into a frozen `PodModel` (roles, start gates, ports, dials,
  preStop hooks, shutdown budgets, resources), with `commands` (what a container runs) and
  `network` (what it listens on) as its readers;
- `analysis`: start gates, port conflicts, unreachable dials, completion, termination, resources;
- `verify`: the model before and after a rewrite, compared: is the conversion safe?
- `kubelet`: a timed simulation of the kubelet running the pod, for `nativecar explain` and for
  the scenarios of Kubernetes' own node e2e tests;
No I/O and no printing here; `nativecar.explain` renders what this package works out.
"""
