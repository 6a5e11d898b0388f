"""Human reference of the six visual-search-asymmetry paradigms, shipped with the package.

A copy of the table Gupta et al. (NeurIPS 2021) compare their models with:
mean human RTs (ms) by set size, read off the published figures of the
original psychophysics studies, the paradigms' display specifications (30
px/deg), the affine fixation -> RT map and the published model indices.

Sources
-------
- curvature, orientation (homogeneous and heterogeneous distractors):
  Wolfe, J. M., Friedman-Hill, S. R., Stewart, M. I., & O'Connell, K. M. (1992).
  The role of categorization in visual search for orientation. JEP:HPP 18(1), 34-49;
  Wolfe, J. M., Yee, A., & Friedman-Hill, S. R. (1992). Curvature is a basic feature for
  visual search tasks. Perception 21(4), 465-480.
- lighting direction: Kleffner, D. A., & Ramachandran, V. S. (1992). On the perception of
  shape from shading. Perception & Psychophysics 52(1), 18-36.
- intersection, T vs L: Wolfe, J. M., & DiMase, J. S. (2003). Do intersections serve as
  basic features in visual search? Perception 32(6), 645-656.
- model indices and the RT map: Gupta, S. K., Zhang, M., Wu, C., Wolfe, J. M., & Kreiman, G.
  (2021). Visual search asymmetry: deep nets and humans share similar inherent biases.
  NeurIPS 34.

No per-trial human data exist for these paradigms: the values are means.  A test
checks that this copy equals ``search_asymmetry/human_reference.json`` of the shared
data when that file is present; nothing reads the shared file at run time.
"""

from __future__ import annotations

REFERENCE = {'description': 'Mean human reaction times (ms) by set size for six classic visual-search-asymmetry '
                'paradigms, as read off the published figures of the original psychophysics studies and used '
                "as the human reference by Gupta et al. (NeurIPS 2021, 'Visual Search Asymmetry: Deep Nets "
                "and Humans Share Similar Inherent Biases'). Asymmetry index per experiment = (s_hard - "
                's_easy)/(s_hard + s_easy) on RT-vs-set-size slopes, negative slopes clipped to 0, hard = '
                'condition with the larger human slope.',
 'sources': {'curvature': 'Wolfe et al. 1992',
             'lighting': 'Kleffner & Ramachandran 1992',
             'intersection': 'Wolfe & DiMase 2003',
             't_vs_l': 'Wolfe & DiMase 2003',
             'orientation_homogeneous': 'Wolfe et al. 1992',
             'orientation_heterogeneous': 'Wolfe et al. 1992',
             'note': 'values are means read off the published figures, as tabulated by Gupta et al. 2021; no '
                     'per-trial human data exist for these paradigms'},
 'set_sizes': {'orientation_homogeneous': [1, 4, 8, 12],
               'orientation_heterogeneous': [1, 4, 8, 12],
               'curvature': [8, 16, 32],
               'intersection': [3, 6, 9],
               't_vs_l': [3, 6, 9],
               'lighting': [1, 6, 12]},
 'rt_ms': {'orientation_homogeneous/target_vertical': [431.58, 547.37, 552.63, 557.89],
           'orientation_homogeneous/target_tilted20': [414.74, 437.89, 441.05, 444.21],
           'orientation_heterogeneous/target_vertical': [431.58, 568.42, 633.68, 707.37],
           'orientation_heterogeneous/target_tilted20': [526.32, 831.58, 1084.21, 1326.32],
           'curvature/curve_among_lines': [510.0, 516.4, 529.2],
           'curvature/line_among_curves': [565.0, 640.0, 750.0],
           'intersection/crossing_target': [829.0, 1117.0, 1405.0],
           'intersection/noncrossing_target': [645.0, 780.0, 915.0],
           't_vs_l/l_target': [573.0, 672.0, 771.0],
           't_vs_l/t_target': [541.0, 583.0, 625.0],
           'lighting/left_right': [488.0, 674.67, 754.67],
           'lighting/top_down': [426.67, 432.0, 472.0]},
 'model_fixation_to_rt': {'slope_ms_per_fixation': 252.359,
                          'intercept_ms': 376.271,
                          'note': 'affine map used by Gupta et al. to compare fixation counts with RTs; the '
                                  'asymmetry index does not depend on it'},
 'paradigm_specs': {'pixels_per_degree': 30,
                    'curvature': {'search_image_px': 339, 'target_px': 48, 'trials_per_condition': 90},
                    'lighting': {'search_image_px': 198, 'target_px': 31, 'trials_per_condition': 90},
                    'intersection': {'search_image_px': 615, 'target_px': 177, 'trials_per_condition': 108},
                    't_vs_l': {'search_image_px': 615, 'target_px': 177, 'trials_per_condition': 108},
                    'orientation_homogeneous': {'search_image_px': 339,
                                                'target_px': 69,
                                                'trials_per_condition': 120,
                                                'distractors': 'all vertical (target tilted 20 deg) or all '
                                                               'tilted 20 deg (target vertical)'},
                    'orientation_heterogeneous': {'search_image_px': 339,
                                                  'target_px': 69,
                                                  'trials_per_condition': 120,
                                                  'distractors': 'mixed orientations'}},
 'reference_results_gupta2021': {'asymmetry_index_mean': {'humans': 0.564,
                                                          'eccNET': 0.513,
                                                          'IVSN': 0.316,
                                                          'eccNET_trained_on_MNIST': 0.185,
                                                          'eccNET_top_layer_only': 0.084,
                                                          'eccNET_without_eccentricity_pooling': 0.052,
                                                          'chance': -0.003,
                                                          'GBVS': -0.018,
                                                          'pixel_match': -0.178,
                                                          'eccNET_trained_on_rotated_ImageNet': -0.405},
                                 'eccNET_polarity_matches_humans': '5 of 6 experiments (orientation with '
                                                                   'identical distractors reversed)',
                                 'eccNET_runtime': 'all six experiments (1272 trials) in 28 min on one RTX '
                                                   '2080 Ti, about 1.3 s per trial'}}
