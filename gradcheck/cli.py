"""The gradcheck command line (click)."""
import click


@click.group()
def main():
    """Check the gradients of NumPy convolution and pooling layers."""
