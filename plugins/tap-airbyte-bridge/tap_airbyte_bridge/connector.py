"""One Airbyte source connector, as the tap talks to it: discover, check and read.

Each call stages the config (and catalog/state) in a fresh private `Workspace`, builds the
argv for the chosen launch mode and streams the connector's messages through `run_connector`.
The workspace lives exactly as long as the call (for `read`, until the iterator is exhausted
or closed). The program is resolved once per connector: for a container, that is also when
the image is checked, so a missing image fails before anything runs.

Knows nothing about Singer: translation lives in `translate.py`.
"""

from __future__ import annotations

import typing as t

from tap_airbyte_bridge.container import container_name, remover
from tap_airbyte_bridge.exceptions import ConnectorError
from tap_airbyte_bridge.launch import Program, Workspace, resolve_program
from tap_airbyte_bridge.process import run_connector
from tap_airbyte_bridge.protocol import AirbyteStream, parse_catalog
from tap_airbyte_bridge.settings import ContainerLaunch

if t.TYPE_CHECKING:
    import logging
    from collections.abc import Iterator

    from tap_airbyte_bridge.settings import Launch


class Connector:
    """Runs Airbyte commands against one configured connector."""

    def __init__(
        self,
        launch: Launch,
        airbyte_config: t.Mapping[str, t.Any],
        logger: logging.Logger,
    ) -> None:
        self.launch = launch
        self.airbyte_config = dict(airbyte_config)
        self.logger = logger
        self._program: Program | None = None

    @property
    def program(self) -> Program:
        """What runs the connector, resolved (and for a container, its image checked) once."""
        if self._program is None:
            self._program = resolve_program(self.launch)
        return self._program

    @property
    def label(self) -> str:
        """The connector's name in logs and errors."""
        return self.launch.label

    def _messages(
        self,
        command: str,
        *,
        catalog: object | None = None,
        state: object | None = None,
    ) -> Iterator[dict[str, t.Any]]:
        program = self.program
        with Workspace(self.launch, owner=program.identity) as workspace:
            workspace.write("config", self.airbyte_config)
            if catalog is not None:
                workspace.write("catalog", catalog)
            if state is not None:
                workspace.write("state", state)
            if isinstance(self.launch, ContainerLaunch):
                name = container_name()
                argv = workspace.argv(command, program, name)
                cleanup = remover(program.path, name)
                yield from run_connector(
                    argv, label=self.label, logger=self.logger, on_stop=cleanup
                )
            else:
                argv = workspace.argv(command, program)
                yield from run_connector(argv, label=self.label, logger=self.logger)

    def _single(self, command: str, kind: str) -> dict[str, t.Any]:
        found: dict[str, t.Any] | None = None
        for message in self._messages(command):
            if message.get("type") == kind and found is None:
                found = message
        if found is None:
            msg = f"connector {self.label} finished '{command}' without a {kind} message"
            raise ConnectorError(msg, connector=self.label, returncode=0)
        return found

    def discover(self) -> list[AirbyteStream]:
        """Run `discover`.

        Returns:
            The discovered streams in the connector's order.
        """
        return parse_catalog(self._single("discover", "CATALOG"))

    def check(self) -> tuple[bool, str | None]:
        """Run `check`.

        Returns:
            Whether the connection succeeded, and the connector's message.
        """
        status = self._single("check", "CONNECTION_STATUS").get("connectionStatus") or {}
        return status.get("status") == "SUCCEEDED", status.get("message")

    def read(
        self,
        catalog: t.Mapping[str, t.Any],
        state: object | None = None,
    ) -> Iterator[dict[str, t.Any]]:
        """Run `read` and yield its messages in order (LOG and TRACE handled already).

        Args:
            catalog: The ConfiguredAirbyteCatalog.
            state: What to pass with `--state` (see `AirbyteState.connector_state`), or None.

        Yields:
            RECORD, STATE and any other protocol messages.
        """
        yield from self._messages("read", catalog=catalog, state=state)
