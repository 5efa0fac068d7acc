from glob import glob

from setuptools import find_packages, setup

package_name = "wm_planner_ros"

setup(
    name=package_name,
    version="0.1.0",
    packages=find_packages(exclude=["test"]),
    data_files=[
        ("share/ament_index/resource_index/packages", [f"resource/{package_name}"]),
        (f"share/{package_name}", ["package.xml"]),
        (f"share/{package_name}/launch", glob("launch/*.launch.py")),
        (f"share/{package_name}/config", glob("config/*.yaml") + glob("config/*.rviz")),
    ],
    install_requires=["setuptools"],
    zip_safe=True,
    maintainer="wm_planner developers",
    maintainer_email="wm-planner@example.com",
    description="ROS 2 planner and MuJoCo sim nodes of wm_planner",
    license="Apache-2.0",
    entry_points={
        "console_scripts": [
            "planner_node = wm_planner_ros.planner_node:main",
            "sim_node = wm_planner_ros.sim_node:main",
        ],
    },
)
