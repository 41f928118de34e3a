"""Runs AWS's SAM transform (aws-sam-translator, what CloudFormation runs for `Transform: AWS::Serverless`) on
template.yaml after filling in what `sam package` would: an ECR image URI per image function and an S3 location
for the state machine definition. Prints the transformed template as JSON on stdout.

Usage: python3 tests/infra/sam-transform.py template.yaml
"""

import json
import os
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse

ACCOUNT = "123456789012"
REGION = "us-east-1"


class ManagedPolicies:
    """Offline stand-in for the IAM lookup SAM makes: every AWS managed policy by name."""

    def load(self):
        return PolicyNames()


class PolicyNames(dict):
    def __missing__(self, name):
        return f"arn:aws:iam::aws:policy/{name}"

    def __contains__(self, name):
        return True


def main(path):
    os.environ.setdefault("AWS_DEFAULT_REGION", REGION)
    with open(path, encoding="utf-8") as handle:
        template = yaml_parse(handle.read())
    for name, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if resource["Type"] == "AWS::Serverless::Function" and properties.get("PackageType") == "Image":
            properties["ImageUri"] = f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/roadtoll:{name.lower()}-node22"
        if resource["Type"] == "AWS::Serverless::StateMachine":
            properties["DefinitionUri"] = {"Bucket": "roadtoll-artifacts", "Key": f"{name}.asl.json"}
    json.dump(transform(template, {}, ManagedPolicies()), sys.stdout, default=str, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
