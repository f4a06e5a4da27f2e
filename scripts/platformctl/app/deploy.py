"""The use cases behind `plan` / `apply` / `destroy` (flow.py holds their order and the saved-plan rules).

One `Deployment` per run: ENV, the site profile, and the pieces every step shares (release plan, image
tags, kube connection). Verbs build one and hand its steps to flow.
"""

from __future__ import annotations

import hashlib
import os
from functools import cached_property
from pathlib import Path

from platformctl.adapters import kube, podwatch, vault
from platformctl.adapters.terraform import Stack
from platformctl.app import (
    flow,
    images,
    installer,
    namespaces,
    release_plan,
    secrets_sync,
    smoke_hook,
    values,
    vault_dev,
)
from platformctl.app.images import ServiceImage
from platformctl.app.installer import HelmClient
from platformctl.config import release, secret_map, versions
from platformctl.config.paths import repo_root, state_dir
from platformctl.config.site import Site
from platformctl.context import Context, render_table
from platformctl.errors import ConfigError, KubernetesError, TerraformError

REGISTRY_VAR = "PLATFORMCTL_IMAGE_REGISTRY"


def layout() -> flow.Layout:
    return flow.Layout(terraform=repo_root() / "terraform", state=state_dir())


class Deployment:
    """Wiring of the real steps for one env and site."""

    def __init__(self, ctx: Context, site: Site, build: bool = True, kubeconfig: str | None = None) -> None:
        self.ctx, self.site, self.build = ctx, site, build
        self.root = repo_root()
        self._kubeconfig = kubeconfig
        self._registry: str | None = os.environ.get(REGISTRY_VAR) or None

    # --- shared facts -------------------------------------------------------------------------------
    @cached_property
    def releases(self) -> list[release.Release]:
        with self.ctx.step(f"release plan ({self.ctx.env})"):
            return release_plan.from_terraform(self.ctx.env, overlay=self.site.values_overlay)

    @property
    def kubeconfig(self) -> str | None:
        return self._kubeconfig or kube.kubeconfig(self.ctx.env)

    @property
    def cluster_type(self) -> str:
        return self.site.cluster_type(self.ctx.env)

    @property
    def delivery(self) -> str:
        return self.site.delivery(self.cluster_type)

    @cached_property
    def service_images(self) -> list[images.ServiceImage]:
        registry = None
        if self.delivery == "registry":
            registry = self._registry or self._registry_from_state()
            if not registry:
                raise ConfigError(
                    f"{self.ctx.env} pushes images to a registry, but none is known yet: apply the cluster "
                    f"stack first (`make apply ENV={self.ctx.env}` creates it and its `image_registry` "
                    f"output) or set {REGISTRY_VAR}"
                )
        return images.planned(self.root, versions.load(), registry, self._database_image())

    def _database_image(self) -> str | None:
        """The image the postgresql release runs after every values file the user wrote (a site's stand-in
        included); the backup image is built on it. None: versions.yaml's pin."""
        return values.release_image(
            next((r for r in self.releases if r.name == "postgresql"), None), self.root
        )

    def _registry_from_state(self) -> str | None:
        """The cluster stack's `image_registry` output when the cluster exists (plan, saved plans)."""
        try:
            found = layout().init(self.ctx.env, "cluster").output("image_registry")
        except TerraformError:
            return None
        return str(found) if found else None

    def platform_variables(self) -> dict[str, str]:
        """stacks/platform's site settings: the overlay, and the connection of an existing cluster."""
        overlay = {"values_overlay": self.site.values_overlay} if self.site.values_overlay else {}
        if not self.site.cluster:
            return overlay
        return {
            **overlay,
            "kubeconfig_path": self.kubeconfig or "~/.kube/config",
            "kube_context": self.site.cluster.kube_context,
        }

    # --- steps --------------------------------------------------------------------------------------
    def existing_cluster(self) -> None:
        """The site's cluster: nothing is provisioned; the connection is checked and passed on."""
        version = kube.reachable(kube.api_client(self.ctx.env, self.kubeconfig))
        context = kube.expected_context(self.ctx.env)
        self.ctx.say(
            f"existing cluster: context '{context}', Kubernetes {version}; stacks/cluster not applied"
        )

    def after_cluster_stack(self, stack: Stack) -> None:
        if self.delivery == "registry" and not self._registry:
            registry = stack.output("image_registry")
            self._registry = str(registry) if registry else None

    def namespaces(self) -> None:
        api = namespaces.Namespaces(kube.api_client(self.ctx.env, self.kubeconfig))
        outcomes = namespaces.ensure(api, [r.namespace for r in self.releases], self.ctx.dry_run)
        self.ctx.say(render_table(namespaces.HEADERS, [o.cells() for o in outcomes]))

    def images(self) -> None:
        rows = []
        for image in self.service_images:
            if not self.build:
                rows.append([image.ref, "not built (--no-build)", "the cluster must be able to pull it"])
                continue
            built = "exists" if images.exists(image) else f"built in {images.build(image):.1f}s"
            rows.append([image.ref, built, self._deliver(image)])
        self.ctx.say(render_table(["image", "build", "delivery"], rows))

    def _deliver(self, image: ServiceImage) -> str:
        if self.delivery == "kind":
            cluster = f"platform-{self.ctx.env}"
            loaded = images.load_into_kind(image, images.kind_nodes(cluster))
            return f"kind: loaded into {len(loaded)} node(s)" if loaded else "kind: already on every node"
        if self.delivery == "registry":
            images.push(image)
            return "pushed"
        if self.delivery == "docker":
            return "docker: built into the nodes' runtime"
        return "none: the cluster must be able to pull it"

    def secrets_sync(self) -> None:
        smap = secret_map.load()
        client = vault.connect(self.ctx.env, smap.mount)
        store = kube.KubeSecrets(kube.api_client(self.ctx.env, self.kubeconfig))
        results = secrets_sync.sync(client, store, smap, self.ctx.dry_run)
        headers = ["secret", "namespace", "keys", "vault version", "changed"]
        self.ctx.say(render_table(headers, secrets_sync.table_rows(results)))

    def _values_inputs(self) -> tuple[secret_map.SecretMap, dict[str, vault.Entry], values.Images]:
        smap = secret_map.load()
        with self.ctx.step(f"values ({self.ctx.env}): read secret versions"):
            entries = vault.connect(self.ctx.env, smap.mount).read_many(
                values.needed_paths(smap, self.releases)
            )
        pinned = values.pinned_images(versions.load())
        for image in self.service_images:
            pinned[image.name] = {"repository": image.repository, "tag": image.tag}
        return smap, entries, pinned

    def generate_values(self, dry_run: bool | None = None) -> list[tuple[str, Path, bool]]:
        """values/generated/<env>/*.yaml: secret checksums, image tags; validated; all written or none."""
        dry = self.ctx.dry_run if dry_run is None else dry_run
        return values.run(self.releases, *self._values_inputs(), self.root, dry)

    def values(self) -> None:
        results = self.generate_values()
        rows = [
            [name, str(path.relative_to(self.root)), "yes" if changed else "no"]
            for name, path, changed in results
        ]
        self.ctx.say(render_table(["release", "file", "changed"], rows))

    def values_digests(self) -> dict[str, str]:
        """Generate the values (writing them) and return their digests, for a saved plan."""
        return flow.values_digests([path for _, path, _ in self.generate_values(dry_run=False)], self.root)

    def check_saved_values(self, plan_dir: Path) -> None:
        """Refuse a saved plan whose values differ from what apply would generate now (writes nothing)."""
        inputs = self._values_inputs()
        rendered = [values.render(r, *inputs, self.root) for r in self.releases]
        digests = {
            str(path.relative_to(self.root)): hashlib.sha256(content).hexdigest()
            for path, content in rendered
        }
        flow.check_values_manifest(plan_dir, digests, self.ctx.env)

    def helm(self) -> HelmClient:
        return installer.client(self.kubeconfig, kube.expected_context(self.ctx.env))

    def install_releases(self) -> None:
        outcomes = installer.install(
            self.helm(), self.releases, self.root, self.site.skip_releases, self.ctx.progress
        )
        self.ctx.say(render_table(installer.HEADERS, [o.cells() for o in outcomes]))

    def watch_releases(self, step: flow.Step) -> flow.Step:
        """`step` with its namespaces' pods watched: a failure (a timeout, usually) says what they showed."""

        def watched() -> None:
            if self.ctx.dry_run:
                return step()
            core = podwatch.core_api(kube.api_client(self.ctx.env, self.kubeconfig))
            watch = podwatch.PodWatch(core, [r.namespace for r in self.releases])
            try:
                with watch:
                    step()
            except (KubernetesError, TerraformError) as exc:
                findings = watch.findings()
                if not findings:
                    raise
                shown = "\n  ".join(findings)
                raise type(exc)(f"{exc}\n  what the pods showed while it waited:\n  {shown}") from None
            return None

        return watched

    def preview_releases(self) -> None:
        """plan's view of the pyhelm3 installer: what apply would install or upgrade."""
        outcomes = installer.preview(self.helm(), self.releases, self.root, self.site.skip_releases)
        self.ctx.say("--- releases (pyhelm3 installer):")
        self.ctx.say(render_table(installer.HEADERS, [o.cells() for o in outcomes]))

    def uninstall_releases(self) -> None:
        planned = [r for r in self.releases if r.name not in self.site.skip_releases]
        outcomes = installer.uninstall(self.helm(), planned, self.ctx.progress)
        self.ctx.say(render_table(installer.HEADERS, [o.cells() for o in outcomes]))

    def remove_namespaces(self) -> None:
        api = namespaces.Namespaces(kube.api_client(self.ctx.env, self.kubeconfig))
        with self.ctx.step("waiting for the namespaces to be deleted"):
            outcomes = namespaces.remove(api, [r.namespace for r in self.releases], self.ctx.dry_run)
        self.ctx.say(render_table(namespaces.HEADERS, [o.cells() for o in outcomes]))

    def smoke(self) -> None:
        smoke_hook.run(self.ctx.env, ctx=self.ctx)

    # --- flows --------------------------------------------------------------------------------------
    def steps(self) -> flow.Steps:
        helm_path = self.site.installer_name == "helm"
        return flow.Steps(
            namespaces=self.namespaces,
            images=self.images,
            secrets_sync=self.secrets_sync,
            values=self.values,
            smoke=self.smoke,
            cluster=self.existing_cluster if self.site.cluster else None,
            releases=self.install_releases if helm_path else None,
            after_cluster=self.after_cluster_stack,
            watch_releases=self.watch_releases,
            variables={"platform": self.platform_variables()},
        )

    def teardown(self) -> flow.Teardown:
        helm_path = self.site.installer_name == "helm"
        return flow.Teardown(
            namespaces=self.remove_namespaces,
            releases=self.uninstall_releases if helm_path else None,
            cluster=(lambda: self.ctx.say("existing cluster: left as it is")) if self.site.cluster else None,
            after=lambda: stop_dev_vault(self.ctx),
            variables={"platform": self.platform_variables()},
        )

    def terraform_stacks(self) -> tuple[str, ...]:
        """The stacks `plan` can show for this site (the others are replaced by the site)."""
        return self.site.terraform_stacks()

    def report_site(self) -> None:
        rows = self.site.replacements()
        if rows:
            self.ctx.say(f"site profile {self.site.source}: {self.site.description}".rstrip(": "))
            self.ctx.say(render_table(["replaced", "why"], [list(r) for r in rows]))


class ReleaseRoller:
    """Rolls a rotated Secret's consumers the way `apply` does, so both share one mechanism: regenerate
    the values (the consumers' secretChecksum changes), then upgrade the releases (Terraform's
    stacks/platform, or the pyhelm3 installer for such a site), atomic and waited for with the plan's
    timeouts. The next `apply` then finds nothing to change and rolls nothing a second time."""

    def __init__(self, deployment: Deployment) -> None:
        self.deployment = deployment

    def roll(self, namespace: str, releases: list[str]) -> list[str]:
        run = self.deployment
        run.generate_values(dry_run=False)
        if run.site.installer_name == "helm":
            chosen = [r for r in run.releases if r.name in releases and r.namespace == namespace]
            rolled: list[str] = []

            def upgrade() -> None:
                outcomes = installer.install(
                    run.helm(), chosen, run.root, run.site.skip_releases, run.ctx.progress
                )
                rolled.extend(o.name for o in outcomes if o.action != "skipped")

            run.watch_releases(upgrade)()
            return rolled
        stack = layout().init(run.ctx.env, "platform", run.platform_variables())

        def terraform_apply() -> None:
            stack.apply()

        run.watch_releases(terraform_apply)()
        return releases


def ensure_dev_vault(ctx: Context) -> None:
    """ENV=dev without VAULT_ADDR uses (and if needed starts) the local dev Vault."""
    if ctx.env == "dev" and not os.environ.get("VAULT_ADDR"):
        data, seeded = vault_dev.up(vault.state_file(), secret_map.load())
        ctx.progress(f"dev Vault at {data['address']}; newly seeded: {', '.join(seeded) or 'none'}")


def report_dev_vault(ctx: Context) -> None:
    """Say that the dev Vault keeps running, and how to stop it (destroy and clean do)."""
    data = vault_dev.running(vault.state_file()) if ctx.env == "dev" else None
    if data:
        ctx.say(
            f"dev Vault still running at {data['address']} (pid {data['pid']}): it holds dev's secrets; "
            "stop it with `make destroy` (everything) or `.venv/bin/platformctl vault dev --stop`"
        )


def stop_dev_vault(ctx: Context) -> None:
    if ctx.env == "dev" and vault_dev.stop(vault.state_file()):
        ctx.say("dev Vault stopped")
