"""RecordingRoller: a FAKE of platformctl.app.rotate.Roller for the rotation tests.

The real roller (platformctl.app.deploy.ReleaseRoller) regenerates the values and upgrades the consumers'
releases with helm or Terraform, which needs a cluster: the e2e run rotates through it for real. These
tests check what the rotation asks to roll, and what happens when a roll fails.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from platformctl.errors import KubernetesError


@dataclass
class RecordingRoller:
    calls: list[tuple[str, tuple[str, ...]]] = field(default_factory=list)
    stuck: bool = False  # True: every roll fails like a rollout that never finishes

    def roll(self, namespace: str, releases: list[str]) -> list[str]:
        self.calls.append((namespace, tuple(releases)))
        if self.stuck:
            raise KubernetesError(f"rollout of {namespace}/{releases[0]} not finished (fake)")
        return releases
