"""A client for the local endpoint over urllib; no TensorFlow (`mlkit predict` uses it)."""

from __future__ import annotations

import ipaddress
import json
import urllib.error
import urllib.request
from urllib.parse import quote, urlsplit

from mlkit.errors import EndpointUnavailable, InvalidPayload, ServingError, UsageError

_START_HINT = "start one with `mlkit serve` (or set MLKIT_ENDPOINT_URL)"


def _base(endpoint_url: str) -> str:
    parts = urlsplit(endpoint_url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise UsageError(
            f"the endpoint URL must look like http://HOST:PORT, got {endpoint_url!r}",
            hint="set MLKIT_ENDPOINT_URL or pass the endpoint option, e.g. http://127.0.0.1:8765",
        )
    return endpoint_url.rstrip("/")


def _is_loopback(url: str) -> bool:
    host = urlsplit(url).hostname or ""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _open(request: urllib.request.Request, timeout: float):
    # A proxy configured for the outside world must not intercept the local endpoint.
    handlers = [urllib.request.ProxyHandler({})] if _is_loopback(request.full_url) else []
    return urllib.request.build_opener(*handlers).open(request, timeout=timeout)


def _error_message(err: urllib.error.HTTPError) -> str:
    try:
        body = json.loads(err.read().decode("utf-8"))
        message = body.get("error") if isinstance(body, dict) else None
        if isinstance(message, dict):  # Google style: {"error": {"code", "message", "status"}}
            message = message.get("message")
    except (ValueError, OSError, UnicodeDecodeError):
        message = None
    return str(message) if message else f"the endpoint answered {err.code} {err.reason}"


def _request(
    base: str,
    method: str,
    path: str,
    body: bytes | None,
    timeout: float,
    token: str | None = None,
) -> dict:
    headers = {"Accept": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    if body is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(base + path, data=body, headers=headers, method=method)
    try:
        with _open(request, timeout) as response:
            raw = response.read()
    except urllib.error.HTTPError as err:
        message = _error_message(err)
        if err.code in (400, 413):
            raise InvalidPayload(message) from err
        if err.code == 401:
            raise ServingError(
                message, hint="pass the endpoint's token with --token or MLKIT_ENDPOINT_TOKEN"
            ) from err
        raise ServingError(message) from err
    except urllib.error.URLError as err:
        if isinstance(err.reason, TimeoutError):
            raise ServingError(
                f"the endpoint at {base} did not answer within {timeout:g} s"
            ) from err
        raise EndpointUnavailable(f"no endpoint is listening at {base}", hint=_START_HINT) from err
    except TimeoutError as err:
        raise ServingError(f"the endpoint at {base} did not answer within {timeout:g} s") from err
    except (ConnectionError, OSError) as err:
        raise EndpointUnavailable(f"no endpoint is listening at {base}", hint=_START_HINT) from err
    try:
        answer = json.loads(raw.decode("utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise ServingError(
            f"the endpoint at {base} answered with something that is not JSON"
        ) from err
    if not isinstance(answer, dict):
        raise ServingError(f"the endpoint at {base} answered with something that is not an object")
    return answer


def _to_json(value: object) -> object:
    if hasattr(value, "tolist"):  # numpy arrays and scalars, without importing numpy
        return value.tolist()
    raise TypeError(f"{type(value).__name__} is not JSON-serializable")


def predict(
    endpoint_url: str,
    model: str,
    instances: list,
    timeout: float = 30.0,
    *,
    version: int | None = None,
    label: str | None = None,
    token: str | None = None,
    parameters: dict | None = None,
    vertex: bool = False,
    complete_rows: bool = False,
) -> dict:
    """Predictions from the local endpoint (or TF Serving: the same routes).

    ``complete_rows``: rows (JSON objects) are first completed from the model's signature
    (``GET .../metadata``): an absent key or a null becomes ``""`` or NaN, as TF Serving needs
    (see ``mlkit.serving.complete``); rows with every input as a value are sent as they are.

    TF Serving shape by default (``POST /v1/models/{model}[/versions/N|/labels/L]:predict``,
    answer ``{"predictions", "model", "version", ...}``); with ``vertex`` the Vertex AI shape
    (``POST /v1/endpoints/{model}:predict``, answer ``{"predictions", "deployedModelId",
    "modelVersionId"}``).
    """
    base = _base(endpoint_url)
    name = quote(model, safe="")
    if vertex:
        path = f"/v1/endpoints/{name}:predict"
    elif version is not None:
        path = f"/v1/models/{name}/versions/{int(version)}"
    elif label is not None:
        path = f"/v1/models/{name}/labels/{quote(label, safe='')}"
    else:
        path = f"/v1/models/{name}"
    nan = False
    if complete_rows and not vertex and any(isinstance(i, dict) for i in instances):
        instances, nan = _completed(base, path, instances, timeout, token)
    payload: dict = {"instances": instances}
    if parameters:
        payload["parameters"] = parameters
    try:
        body = json.dumps(payload, default=_to_json, allow_nan=nan)
    except (TypeError, ValueError) as err:
        raise InvalidPayload(f"the instances cannot be sent as JSON: {err}") from err
    verb = "" if vertex else ":predict"
    return _request(base, "POST", path + verb, body.encode("utf-8"), timeout, token)


def _completed(
    base: str, path: str, instances: list, timeout: float, token: str | None
) -> tuple[list, bool]:
    """The rows with every scalar input of the model's signature (``mlkit.serving.complete``):
    what TF Serving needs; True when a NaN (a missing number) is in them."""
    from mlkit.serving.complete import complete_instances, input_forms, needs_completion

    forms = input_forms(_request(base, "GET", path + "/metadata", None, timeout, token))
    if not needs_completion(instances, forms):
        return instances, False
    return complete_instances(instances, forms), True


def status(endpoint_url: str, model: str, timeout: float = 5.0, token: str | None = None) -> dict:
    """``GET /v1/models/{model}``: TF Serving's version status of a model."""
    path = f"/v1/models/{quote(model, safe='')}"
    return _request(_base(endpoint_url), "GET", path, None, timeout, token)


def models(endpoint_url: str, timeout: float = 5.0, token: str | None = None) -> list[dict]:
    """``GET /v1/models``: what the endpoint serves."""
    answer = _request(_base(endpoint_url), "GET", "/v1/models", None, timeout, token)
    return list(answer.get("models") or [])


def health(endpoint_url: str, timeout: float = 2.0) -> bool:
    """True when an endpoint answers ``GET /health`` with ``{"status": "ok"}``."""
    try:
        answer = _request(_base(endpoint_url), "GET", "/health", None, timeout)
    except (ServingError, UsageError):
        return False
    return answer.get("status") == "ok"
