"""The Vulkan layer-settings guard: applied once where the unguarded block is, recorded by
name, and not at all where there is nothing to guard."""

from __future__ import annotations

from pathlib import Path

from melt.runtimes.patches import apply_patches

FILE = "ggml/src/ggml-vulkan/ggml-vulkan.cpp"
UNGUARDED = """static void init() {
    VkBool32 enable_best_practice = layer_settings;
    std::vector<vk::LayerSettingEXT> settings = { enable_best_practice };
    vk::LayerSettingsCreateInfoEXT layer_setting_info(settings);
    vk::InstanceCreateInfo instance_create_info(vk::InstanceCreateFlags{}, &app_info, layers, extensions, &layer_setting_info);
    create(instance_create_info);
}
"""  # noqa: E501 (the line as ggml-vulkan.cpp has it)


def tree(root: Path, text: str) -> Path:
    (root / FILE).parent.mkdir(parents=True)
    (root / FILE).write_text(text)
    return root


def test_the_guard_wraps_the_block_once_and_keeps_a_plain_create_info(tmp_path: Path) -> None:
    source = tree(tmp_path, UNGUARDED)
    assert apply_patches(source, "vulkan") == ["vulkan-layer-settings-guard"]
    text = (source / FILE).read_text()
    guarded, plain = text.split("#else\n")
    assert guarded.startswith("static void init() {\n#if defined(VK_EXT_layer_settings)\n")
    assert "&layer_setting_info);" in guarded
    assert plain.startswith(
        "    vk::InstanceCreateInfo instance_create_info(vk::InstanceCreateFlags{}, "
        "&app_info, layers, extensions);\n#endif\n    create(instance_create_info);"
    )
    assert apply_patches(source, "vulkan") == []  # already guarded: not again
    assert (source / FILE).read_text() == text


def test_no_patch_where_its_anchor_is_absent_or_for_another_backend(tmp_path: Path) -> None:
    source = tree(tmp_path / "a", "int unrelated;\n")
    assert apply_patches(source, "vulkan") == []
    assert (source / FILE).read_text() == "int unrelated;\n"
    other = tree(tmp_path / "b", UNGUARDED)
    assert apply_patches(other, "cpu") == []
    assert (other / FILE).read_text() == UNGUARDED
