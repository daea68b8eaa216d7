"""Opens an ML Metadata store: a local SQLite file, a MySQL/MariaDB server, or a connection-config file.

A Kubeflow Pipelines cluster keeps its store in MySQL (database `metadb`); point these options at it
(for example through `kubectl port-forward svc/mysql 3306`) and every `bert-tfx` metadata command reads it.
"""

from __future__ import annotations

import dataclasses
import os
from pathlib import Path

from google.protobuf import text_format
from ml_metadata import metadata_store
from ml_metadata.proto import metadata_store_pb2

MYSQL_PASSWORD_ENV = "BERT_TFX_MYSQL_PASSWORD"


@dataclasses.dataclass(frozen=True)
class MySqlStore:
    """A MySQL or MariaDB ML Metadata store.

    Attributes:
        host: server host name or address (ignored when `socket` is set).
        port: TCP port.
        database: database that holds the store; created on first use by a pipeline run.
        user: user name.
        password: password ("" for none); the CLI reads it from `BERT_TFX_MYSQL_PASSWORD`.
        socket: path of a Unix socket, instead of host and port.
    """

    host: str = "127.0.0.1"
    port: int = 3306
    database: str = "metadb"
    user: str = "root"
    password: str = ""
    socket: str | None = None


def sqlite_config(path: str | Path, read_only: bool = False) -> metadata_store_pb2.ConnectionConfig:
    config = metadata_store_pb2.ConnectionConfig()
    config.sqlite.filename_uri = str(path)
    config.sqlite.connection_mode = (
        metadata_store_pb2.SqliteMetadataSourceConfig.READONLY
        if read_only
        else metadata_store_pb2.SqliteMetadataSourceConfig.READWRITE_OPENCREATE
    )
    return config


def mysql_config(store: MySqlStore) -> metadata_store_pb2.ConnectionConfig:
    config = metadata_store_pb2.ConnectionConfig()
    config.mysql.database = store.database
    config.mysql.user = store.user
    config.mysql.password = store.password
    if store.socket:
        config.mysql.socket = store.socket
    else:
        config.mysql.host = store.host
        config.mysql.port = store.port
    return config


def config_from_file(path: str | Path) -> metadata_store_pb2.ConnectionConfig:
    """A `ml_metadata.ConnectionConfig` in protobuf text format, e.g. `mysql { host: "..." database: "..." }`."""
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"metadata connection config {path} does not exist")
    try:
        return text_format.Parse(path.read_text(), metadata_store_pb2.ConnectionConfig())
    except text_format.ParseError as err:
        raise ValueError(f"{path}: not a ml_metadata ConnectionConfig in text format: {err}") from err


def config_from_text(text: str) -> metadata_store_pb2.ConnectionConfig:
    """A connection config in protobuf text format (as a pipeline node receives it); a MySQL config without a
    password takes it from `BERT_TFX_MYSQL_PASSWORD`."""
    config = text_format.Parse(text, metadata_store_pb2.ConnectionConfig())
    if config.HasField("mysql") and not config.mysql.password:
        config.mysql.password = os.environ.get(MYSQL_PASSWORD_ENV, "")
    return config


def describe(config: metadata_store_pb2.ConnectionConfig) -> str:
    """Where a connection config points, without its password."""
    if config.HasField("mysql"):
        where = config.mysql.socket or f"{config.mysql.host}:{config.mysql.port}"
        return f"mysql://{config.mysql.user}@{where}/{config.mysql.database}"
    if config.HasField("sqlite"):
        return config.sqlite.filename_uri
    return text_format.MessageToString(config, as_one_line=True)


def open_store(config: metadata_store_pb2.ConnectionConfig | str | Path) -> metadata_store.MetadataStore:
    """A handle on an existing store; a path means a SQLite file, opened read-only."""
    if isinstance(config, (str, Path)):
        if not os.path.exists(config):
            raise FileNotFoundError(f"no ML Metadata store at {config} (has the pipeline run?)")
        config = sqlite_config(config, read_only=True)
    try:
        return metadata_store.MetadataStore(config)
    except Exception as err:  # MLMD raises its own status errors, one per backend
        raise ConnectionError(f"cannot open the ML Metadata store {describe(config)}: {err}") from err
