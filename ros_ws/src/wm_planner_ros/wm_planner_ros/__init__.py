"""ROS 2 nodes of wm_planner: ``planner_node`` (lifecycle), ``sim_node`` (the MuJoCo arm as a
ros2_control robot), their parameters, and ``wm-planner ros-sim``, which starts them without ROS
installed. Importing the package loads no ROS library; its modules do."""
