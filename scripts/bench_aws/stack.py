"""The deployed stack as the harness needs it: function names and the proxy's name from the
stack's Outputs (never rebuilt from the stack name), its parameters for the report, and
each function's configuration."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

# Output key -> (short name in the report, the event each invocation sends, the output
# naming its `live` alias on Managed Instances, which run published versions only).
FUNCTIONS: dict[str, tuple[str, str, str]] = {
    "RdsEnrichNaiveFunction": ("naive", "id", "RdsEnrichNaiveAlias"),
    "RdsEnrichFunction": ("global", "id", "RdsEnrichAlias"),
    "S3GetObjectFunction": ("s3-get-object", "s3", "S3GetObjectAlias"),
    "DecryptEnvFunction": ("decrypt-env", "webhook", "DecryptEnvAlias"),
}
BURST = ("RdsEnrichNaiveFunction", "RdsEnrichFunction")
PROXY_OUTPUT = "DatabaseProxyName"
# Parameters left out of the plan and the report: a secret's ARN, ciphertext.
UNSHOWN_PARAMETERS = ("DatabaseSecretArn", "EncryptedSecret")


class StackError(Exception):
    """The stack cannot be measured as asked; the message says why."""


@dataclass
class FunctionInfo:
    output: str  # the stack's output key
    key: str  # the short name
    name: str  # the function's name
    memory_mb: int
    timeout_s: int
    architecture: str
    log_group: str
    log_format: str
    variables: dict[str, str]
    # Lambda Managed Instances: billed per instance; a configuration change (memory
    # included) runs only once a version is published, and the alias serves one.
    managed_instances: bool = False
    # What Invoke is given: the function's name, or on Managed Instances its alias.
    target: str = ""

    @staticmethod
    def of(output: str, config: dict[str, Any]) -> "FunctionInfo":
        environment = config.get("Environment") or {}
        if "Error" in environment:
            raise StackError(
                f"{config['FunctionName']}: its environment variables cannot be read "
                f"({environment['Error'].get('Message', 'encrypted')}); the harness must read "
                "them to put them back after a run")
        logging = config.get("LoggingConfig") or {}
        return FunctionInfo(
            output=output,
            key=FUNCTIONS[output][0],
            name=config["FunctionName"],
            memory_mb=int(config["MemorySize"]),
            timeout_s=int(config["Timeout"]),
            architecture=(config.get("Architectures") or ["x86_64"])[0],
            log_group=logging.get("LogGroup") or f"/aws/lambda/{config['FunctionName']}",
            log_format=logging.get("LogFormat", "Text"),
            variables=dict(environment.get("Variables") or {}),
            managed_instances="CapacityProviderConfig" in config,
            target=config["FunctionName"],
        )


@dataclass
class Stack:
    name: str
    region: str
    parameters: dict[str, str]
    outputs: dict[str, str]
    functions: dict[str, FunctionInfo] = field(default_factory=dict)

    @property
    def shown_parameters(self) -> dict[str, str]:
        return {k: v for k, v in sorted(self.parameters.items()) if k not in UNSHOWN_PARAMETERS}

    @property
    def proxy_name(self) -> str | None:
        return self.outputs.get(PROXY_OUTPUT)


def describe(cloudformation: Any, lam: Any, name: str, wanted: list[str]) -> Stack:
    """Reads the stack and the configuration of each function in `wanted` (output keys).
    Read-only: DescribeStacks and GetFunctionConfiguration."""
    stacks = cloudformation.describe_stacks(StackName=name)["Stacks"]
    if not stacks:
        raise StackError(f"no stack {name}")
    described = stacks[0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    parameters = {p["ParameterKey"]: p.get("ParameterValue", "")
                  for p in described.get("Parameters", [])}
    stack = Stack(name=name, region=cloudformation.meta.region_name, parameters=parameters,
                  outputs=outputs)
    for output in wanted:
        if output not in outputs:
            hint = " (deploy with DeployNaive=true)" if output == "RdsEnrichNaiveFunction" else ""
            raise StackError(f"stack {name} has no output {output}{hint}")
        config = lam.get_function_configuration(FunctionName=outputs[output])
        # On Managed Instances the unpublished $LATEST is never invoked (Lambda reports it
        # ActiveNonInvocable): the alias, a published version, is what runs.
        managed = "CapacityProviderConfig" in config
        usable = ("Active", "ActiveNonInvocable") if managed else ("Active",)
        if config.get("State") not in usable or config.get("LastUpdateStatus") != "Successful":
            raise StackError(f"{outputs[output]} is {config.get('State')} / "
                             f"{config.get('LastUpdateStatus')}: wait until it is Active and "
                             "its last update Successful")
        info = FunctionInfo.of(output, config)
        if info.managed_instances:
            info.target = outputs.get(FUNCTIONS[output][2]) or f"{info.name}:live"
        stack.functions[output] = info
    return stack
